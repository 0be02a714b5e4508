-- Vitalgate schema, migration 010: the clinical alarm lifecycle
-- (docs/alerts.md "Alarm lifecycle"). Every statement is safe to re-run.
--  - alert events add alert.acknowledged and alert.escalated;
--  - per ward (or '*' for every ward) the priority of each kind of alert
--    (alert_priorities) and the escalation of each priority
--    (alert_escalation), delivered to brokers like thresholds
--    (NOTIFY vitalgate_config);
--  - alert_open keeps a latched alert (a high alert whose condition ended
--    before anyone acknowledged it) under the condition 'latched/<alert id>'
--    until its alert.acknowledged, and follows acks and escalations (their
--    bodies carry the lifecycle: priority, acknowledged_at, level), so a
--    restarted broker and a cell's standby continue each alert's escalation.

ALTER TABLE alert_events DROP CONSTRAINT IF EXISTS alert_events_type_check;
ALTER TABLE alert_events ADD CONSTRAINT alert_events_type_check
    CHECK (type IN ('alert.raised', 'alert.updated', 'alert.resolved', 'alert.acknowledged', 'alert.escalated'));
CREATE INDEX IF NOT EXISTS alert_events_ward_time ON alert_events (ward, created_at);

-- The priority of a kind of alert: 'threshold' (every vital), 'threshold:<vital>',
-- 'news2:medium', 'news2:high', 'silent'. A ward's row overrides '*', a
-- vital's row overrides 'threshold'.
CREATE TABLE IF NOT EXISTS alert_priorities (
    ward        text        NOT NULL DEFAULT '*' CHECK (ward = '*' OR ward ~ '^[A-Za-z0-9_-]{1,64}$'),
    alert       text        NOT NULL CHECK (alert IN ('threshold', 'threshold:hr', 'threshold:spo2', 'threshold:rr',
                                'threshold:sbp', 'threshold:dbp', 'threshold:map', 'threshold:temp',
                                'news2:medium', 'news2:high', 'silent')),
    priority    text        NOT NULL CHECK (priority IN ('high', 'medium', 'low')),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ward, alert)
);

-- Escalation of a priority: after_s NULL = never; at most max_level levels.
CREATE TABLE IF NOT EXISTS alert_escalation (
    ward        text        NOT NULL DEFAULT '*' CHECK (ward = '*' OR ward ~ '^[A-Za-z0-9_-]{1,64}$'),
    priority    text        NOT NULL CHECK (priority IN ('high', 'medium', 'low')),
    after_s     integer     CHECK (after_s IS NULL OR after_s BETWEEN 1 AND 86400),
    max_level   integer     NOT NULL DEFAULT 3 CHECK (max_level BETWEEN 1 AND 20),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ward, priority)
);

DROP TRIGGER IF EXISTS alert_priorities_notify ON alert_priorities;
CREATE TRIGGER alert_priorities_notify AFTER INSERT OR UPDATE OR DELETE ON alert_priorities
    FOR EACH STATEMENT EXECUTE FUNCTION vitalgate_notify_config();
DROP TRIGGER IF EXISTS alert_escalation_notify ON alert_escalation;
CREATE TRIGGER alert_escalation_notify AFTER INSERT OR UPDATE OR DELETE ON alert_escalation
    FOR EACH STATEMENT EXECUTE FUNCTION vitalgate_notify_config();

-- Migration 007's function, plus: a resolution of a latched alert moves its
-- row to 'latched/<alert id>' (the condition is free for a new alert); an
-- event of an alert held there (acknowledged: removes it; escalated:
-- updates it) finds it there.
CREATE OR REPLACE FUNCTION vitalgate_alert_open_apply(jid text)
RETURNS TABLE (event_id text, alert_id text, kind text, ward text, bed text, device_id text, order_key text,
               created_ms bigint, body text)
LANGUAGE plpgsql AS $$
DECLARE
    e record;
    cur alert_open%ROWTYPE;
    k text;
    et timestamptz;
    n integer;
BEGIN
    FOR e IN EXECUTE 'SELECT s.event_id, s.alert_id, s.type, s.kind, s.severity, s.ward, s.bed, s.device_id, '
            || 's.created_ms, s.body FROM pg_temp.vg_stage_events s ORDER BY s.lsn, s.n' LOOP
        k := vitalgate_alert_cond(e.kind, e.ward, e.bed, e.device_id, e.body);
        IF k IS NULL OR e.alert_id IS NULL THEN
            CONTINUE;
        END IF;
        et := timestamptz 'epoch' + e.created_ms * interval '1 millisecond';
        SELECT count(*) INTO n FROM alert_events a WHERE a.alert_id = e.alert_id;
        SELECT * INTO cur FROM alert_open o WHERE o.cond = k FOR UPDATE;
        IF e.type = 'alert.raised' THEN
            IF EXISTS (SELECT 1 FROM alert_events a WHERE a.alert_id = e.alert_id AND a.type = 'alert.resolved') THEN
                CONTINUE;  -- a replay of an alert that has ended
            ELSIF cur.cond IS NULL THEN
                INSERT INTO alert_open AS o (cond, alert_id, kind, severity, ward, bed, device_id, raised_at, updated_at,
                                             transitions, body)
                VALUES (k, e.alert_id, e.kind, e.severity, e.ward, e.bed, e.device_id, et, et, n, e.body)
                ON CONFLICT DO NOTHING;
            ELSIF cur.alert_id = e.alert_id THEN
                CONTINUE;
            ELSIF et > cur.raised_at OR (et = cur.raised_at AND e.alert_id > cur.alert_id) THEN
                RETURN QUERY SELECT * FROM vitalgate_alert_supersede(cur.alert_id, e.alert_id, jid);
                UPDATE alert_open o SET alert_id = e.alert_id, kind = e.kind, severity = e.severity, ward = e.ward,
                    bed = e.bed, device_id = e.device_id, raised_at = et, updated_at = et, transitions = n,
                    body = e.body WHERE o.cond = k;
            ELSE
                RETURN QUERY SELECT * FROM vitalgate_alert_supersede(e.alert_id, cur.alert_id, jid);
            END IF;
        ELSIF cur.alert_id = e.alert_id THEN
            IF e.type = 'alert.resolved' AND COALESCE((e.body::json->'data'->>'latched')::boolean, false) THEN
                UPDATE alert_open o SET cond = 'latched/' || e.alert_id, severity = e.severity, updated_at = et,
                    transitions = greatest(n, o.transitions), body = e.body WHERE o.cond = k;
            ELSIF e.type = 'alert.resolved' THEN
                DELETE FROM alert_open o WHERE o.cond = k;
            ELSIF et >= cur.updated_at THEN
                UPDATE alert_open o SET severity = e.severity, updated_at = et, transitions = greatest(n, o.transitions),
                    body = e.body WHERE o.cond = k;
            ELSE
                UPDATE alert_open o SET transitions = greatest(n, o.transitions) WHERE o.cond = k;
            END IF;
        ELSIF e.type = 'alert.acknowledged' THEN
            DELETE FROM alert_open o WHERE o.cond = 'latched/' || e.alert_id;
        ELSIF e.type = 'alert.escalated' THEN
            UPDATE alert_open o SET updated_at = et, transitions = greatest(n, o.transitions), body = e.body
                WHERE o.cond = 'latched/' || e.alert_id AND et >= o.updated_at;
        END IF;
    END LOOP;
END;
$$;

-- Open alerts: those alert_open holds (latched ones included).
CREATE OR REPLACE VIEW open_alerts AS
SELECT o.alert_id, (o.body::json->>'type') AS type, o.kind, o.severity, o.ward, o.bed, o.device_id,
       o.updated_at AS created_at, o.body
FROM alert_open o;
