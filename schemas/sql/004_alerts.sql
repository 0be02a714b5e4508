-- Vitalgate schema, migration 004: alert thresholds, bed settings, and the
-- alert event outbox (docs/alerts.md).

-- Thresholds per vital: a value <= low or >= high raises a threshold alert.
-- ward '*' is the default for every ward; a ward's own row overrides it.
-- Without any row the built-in defaults apply (the NEWS2 score-3 bands).
-- A row with both bounds NULL switches that vital's threshold alert off.
CREATE TABLE IF NOT EXISTS alert_thresholds (
    ward        text        NOT NULL DEFAULT '*' CHECK (ward = '*' OR ward ~ '^[A-Za-z0-9_-]{1,64}$'),
    vital       text        NOT NULL CHECK (vital IN ('hr', 'spo2', 'rr', 'sbp', 'dbp', 'map', 'temp')),
    low         numeric,
    high        numeric,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ward, vital),
    CHECK (low IS NULL OR high IS NULL OR low < high)
);

-- Per-bed clinical settings: SpO2 scale 2 is a clinical decision for
-- patients with hypercapnic respiratory failure (target 88-92 %).
CREATE TABLE IF NOT EXISTS bed_settings (
    ward        text        NOT NULL CHECK (ward ~ '^[A-Za-z0-9_-]{1,64}$'),
    bed         text        NOT NULL CHECK (bed ~ '^[A-Za-z0-9_-]{1,64}$'),
    spo2_scale  smallint    NOT NULL DEFAULT 1 CHECK (spo2_scale IN (1, 2)),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ward, bed)
);

CREATE OR REPLACE FUNCTION vitalgate_notify_config() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('vitalgate_config', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS alert_thresholds_notify ON alert_thresholds;
CREATE TRIGGER alert_thresholds_notify AFTER INSERT OR UPDATE OR DELETE ON alert_thresholds
    FOR EACH STATEMENT EXECUTE FUNCTION vitalgate_notify_config();
DROP TRIGGER IF EXISTS bed_settings_notify ON bed_settings;
CREATE TRIGGER bed_settings_notify AFTER INSERT OR UPDATE OR DELETE ON bed_settings
    FOR EACH STATEMENT EXECUTE FUNCTION vitalgate_notify_config();

-- One row per alert event (raised, updated, resolved): the outbox of the
-- webhooks. Written by the broker's writer in the same transaction as the
-- sample that caused it (or journalled with it while PostgreSQL is down);
-- the status is updated as deliveries succeed, or given up (dead) after
-- webhook_dead_after_s. `vitalgate-admin webhook redrive` puts dead events
-- back to pending.
CREATE TABLE IF NOT EXISTS alert_events (
    event_id      text        PRIMARY KEY,
    alert_id      text        NOT NULL,
    type          text        NOT NULL CHECK (type IN ('alert.raised', 'alert.updated', 'alert.resolved')),
    kind          text        NOT NULL CHECK (kind IN ('threshold', 'news2', 'silent')),
    severity      text        NOT NULL,
    ward          text,
    bed           text,
    device_id     text,
    order_key     text        NOT NULL,
    created_at    timestamptz NOT NULL,
    body          text        NOT NULL,
    status        text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts      integer     NOT NULL DEFAULT 0,
    last_http     integer,
    last_error    text,
    delivered_at  timestamptz,
    status_at     timestamptz NOT NULL DEFAULT now(),
    journal_id    text,
    lsn           bigint
);
CREATE INDEX IF NOT EXISTS alert_events_pending ON alert_events (created_at) WHERE status <> 'delivered';
CREATE INDEX IF NOT EXISTS alert_events_alert ON alert_events (alert_id, created_at);
CREATE INDEX IF NOT EXISTS alert_events_bed ON alert_events (ward, bed, created_at DESC);

-- Open alerts: the last event of every alert that is not resolved.
CREATE OR REPLACE VIEW open_alerts AS
SELECT * FROM (
    SELECT DISTINCT ON (alert_id) alert_id, type, kind, severity, ward, bed, device_id, created_at, body
    FROM alert_events
    ORDER BY alert_id, created_at DESC, event_id DESC
) last WHERE type <> 'alert.resolved';

-- vitalgate-admin asks running brokers to redeliver or to re-enable the
-- webhook endpoint on this channel.
CREATE OR REPLACE FUNCTION vitalgate_webhook_command(cmd text) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_notify('vitalgate_webhook', cmd);
$$;
