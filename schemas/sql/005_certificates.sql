-- Vitalgate schema, migration 005: revoked client certificates and the
-- certificate revocation lists (CRLs) brokers enforce (docs/security.md).
--
-- `vitalgate-admin cert revoke` records a certificate by issuer and serial;
-- `vitalgate-admin cert crl` signs, with the CA's key (which stays on the
-- operator's side), a CRL of every serial revoked under that CA and stores
-- it here. Each broker with plugin_opt_crl_file LISTENs on vitalgate_crl,
-- writes the stored CRLs to that file (its listener's `crlfile`) and has
-- Mosquitto reload its listeners: a revoked certificate then fails the TLS
-- handshake, and a client still connected with one is disconnected.

CREATE TABLE IF NOT EXISTS revoked_certificates (
    issuer      text        NOT NULL,  -- the CA's subject, RFC 2253
    serial      text        NOT NULL CHECK (serial ~ '^[0-9A-F]{1,128}$'),  -- hex, no leading zeros
    subject_cn  text,                  -- the certificate's CN, for the operator
    revoked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, serial)
);

-- The latest signed CRL of each CA (PEM).
CREATE TABLE IF NOT EXISTS certificate_crls (
    issuer      text        PRIMARY KEY,
    crl_number  bigint      NOT NULL CHECK (crl_number > 0),
    pem         text        NOT NULL CHECK (pem LIKE '-----BEGIN X509 CRL-----%'),
    revoked     integer     NOT NULL,
    this_update timestamptz NOT NULL,
    next_update timestamptz NOT NULL CHECK (next_update > this_update),
    signed_at   timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION vitalgate_notify_crl() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('vitalgate_crl', '');
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS certificate_crls_notify ON certificate_crls;
CREATE TRIGGER certificate_crls_notify AFTER INSERT OR UPDATE OR DELETE ON certificate_crls
    FOR EACH STATEMENT EXECUTE FUNCTION vitalgate_notify_crl();
