-- Vitalgate schema, migration 003: let the broker's writer chain its audit
-- rows itself.
--
-- The row trigger of migration 002 costs about 70 us of database CPU per
-- row; during a reconnect storm (thousands of connects a second) that
-- competes with the broker for the CPU. The writer now takes the same
-- advisory lock, reads the chain head once, computes each row's hash in C
-- with exactly vitalgate_audit_canonical()'s bytes, and COPYs the chained
-- rows, after setting vitalgate.audit_chained to its transaction id: the
-- trigger then steps aside. Every other insert (vitalgate-admin's) is still
-- chained by the trigger, and `audit verify` checks all rows the same way.
-- (The setting grants nothing: whoever may insert into audit_log can append
-- consistent rows either way; the chain protects the rows already there.)

CREATE OR REPLACE FUNCTION vitalgate_audit_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    prev bytea;
BEGIN
    IF current_setting('vitalgate.audit_chained', true) = txid_current()::text THEN
        RETURN NEW;
    END IF;
    PERFORM pg_advisory_xact_lock(727384102);
    NEW.id := nextval('audit_log_id_seq');
    SELECT a.hash INTO prev FROM audit_log a ORDER BY a.id DESC LIMIT 1;
    NEW.prev_hash := COALESCE(prev, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    NEW.hash := sha256(NEW.prev_hash || vitalgate_audit_canonical(NEW));
    RETURN NEW;
END;
$$;
