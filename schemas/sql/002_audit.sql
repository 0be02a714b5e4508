-- Vitalgate schema, migration 002: the hash-chained audit trail
-- (HIPAA 164.312(b) audit controls, (c) integrity).
--
-- Every connect, refusal, disconnect, ACL denial and kick (written by the
-- broker's writer thread from the journal) and every change made with
-- vitalgate-admin (written in the same transaction as the change) is one
-- row. Each row carries the hash of the previous row; the chain is built by
-- a trigger under a transaction-scoped advisory lock, so rows from the
-- broker and from the CLI interleave in one order. Rows cannot be updated
-- or deleted through normal means; `vitalgate-admin audit verify` recomputes
-- the chain and names the first row that does not match.

CREATE SEQUENCE IF NOT EXISTS audit_log_id_seq;

CREATE TABLE IF NOT EXISTS audit_log (
    id          bigint      PRIMARY KEY,
    at          timestamptz NOT NULL,
    source      text        NOT NULL CHECK (source IN ('broker', 'admin')),
    event       text        NOT NULL,
    identity    text,
    client_id   text,
    address     text,
    actor       text,
    detail      text        NOT NULL DEFAULT '',
    journal_id  text,
    lsn         bigint,
    prev_hash   bytea       NOT NULL,
    hash        bytea       NOT NULL,
    UNIQUE (journal_id, lsn)
);
CREATE INDEX IF NOT EXISTS audit_log_identity_at ON audit_log (identity, at);

-- The exact bytes a row's hash covers (after the previous row's hash).
-- Unit separators keep fields from running into each other.
CREATE OR REPLACE FUNCTION vitalgate_audit_canonical(r audit_log) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT convert_to(concat_ws(E'\x1f',
        r.id::text,
        to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        r.source, r.event,
        COALESCE(r.identity, ''), COALESCE(r.client_id, ''), COALESCE(r.address, ''),
        COALESCE(r.actor, ''), r.detail,
        COALESCE(r.journal_id, ''), COALESCE(r.lsn::text, '')), 'UTF8')
$$;

CREATE OR REPLACE FUNCTION vitalgate_audit_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    prev bytea;
BEGIN
    -- One writer at a time, until commit: ids are taken under the lock so
    -- the chain order is the id order.
    PERFORM pg_advisory_xact_lock(727384102);
    NEW.id := nextval('audit_log_id_seq');
    SELECT a.hash INTO prev FROM audit_log a ORDER BY a.id DESC LIMIT 1;
    NEW.prev_hash := COALESCE(prev, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    NEW.hash := sha256(NEW.prev_hash || vitalgate_audit_canonical(NEW));
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS audit_log_chain ON audit_log;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION vitalgate_audit_chain();

CREATE OR REPLACE FUNCTION vitalgate_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION vitalgate_audit_append_only();
DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log;
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION vitalgate_audit_append_only();
