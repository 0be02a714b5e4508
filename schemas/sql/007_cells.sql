-- Vitalgate schema, migration 007: cells (docs/scale-out.md).
-- Every statement is safe to re-run.
--
-- A cell is one Mosquitto + Vitalgate (and its standby) serving a set of
-- wards. This migration adds:
--  - where each ward is served (ward_cells; `vitalgate-admin ward place`);
--  - the role `cell`: the identity a cell's Mosquitto bridge logs in to
--    the hub with, allowed to publish only wards/<ward>/... of the wards
--    placed on its cell (cell_identities says which cell);
--  - per condition, the one open alert (alert_open), kept by the writers
--    in the transaction of each alert event, so that a cell's instances
--    (primary, standby) see each other's alerts and never both hold an
--    open alert for the same condition in the database;
--  - per device, when and by which instance (journal id) its latest sample
--    was received (vitals_seq_hwm), so that only the instance a device last
--    sent to raises its silent-device alert.

-- Where each ward is served. A ward placed on no cell is served by no cell
-- (brokers without plugin_opt_cell serve every ward, as before).
CREATE TABLE IF NOT EXISTS ward_cells (
    ward        text        PRIMARY KEY CHECK (ward ~ '^[A-Za-z0-9_-]{1,64}$'),
    cell        text        NOT NULL CHECK (cell ~ '^[A-Za-z0-9_-]{1,64}$'),
    placed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ward_cells_cell ON ward_cells (cell);

-- Brokers in cell or hub mode LISTEN on this channel; the payload is
-- "<ward> <cell>" (the cell the ward is now on, empty when unplaced).
CREATE OR REPLACE FUNCTION vitalgate_notify_cells() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('vitalgate_cells', OLD.ward || ' ');
    ELSE
        PERFORM pg_notify('vitalgate_cells', NEW.ward || ' ' || NEW.cell);
    END IF;
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS ward_cells_notify ON ward_cells;
CREATE TRIGGER ward_cells_notify AFTER INSERT OR UPDATE OR DELETE ON ward_cells
    FOR EACH ROW EXECUTE FUNCTION vitalgate_notify_cells();

-- The role of a cell's bridge identity.
ALTER TABLE identities DROP CONSTRAINT IF EXISTS identities_role_check;
ALTER TABLE identities ADD CONSTRAINT identities_role_check
    CHECK (role IN ('device', 'station', 'service', 'cell'));

-- Which cell a `cell` identity speaks for (one identity per instance: a
-- primary and its standby bridge with their own client ids).
CREATE TABLE IF NOT EXISTS cell_identities (
    identity_id text        PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
    cell        text        NOT NULL CHECK (cell ~ '^[A-Za-z0-9_-]{1,64}$')
);

CREATE OR REPLACE FUNCTION vitalgate_notify_identity() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ident text;
BEGIN
    IF TG_TABLE_NAME = 'identities' THEN
        ident := COALESCE(NEW.id, OLD.id);
    ELSIF TG_TABLE_NAME = 'bed_assignments' THEN
        ident := COALESCE(NEW.device_id, OLD.device_id);
    ELSIF TG_TABLE_NAME = 'cell_identities' THEN
        ident := COALESCE(NEW.identity_id, OLD.identity_id);
    ELSE
        ident := COALESCE(NEW.station_id, OLD.station_id);
    END IF;
    PERFORM pg_notify('vitalgate_identity', ident);
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS cell_identities_notify ON cell_identities;
CREATE TRIGGER cell_identities_notify AFTER INSERT OR UPDATE OR DELETE ON cell_identities
    FOR EACH ROW EXECUTE FUNCTION vitalgate_notify_identity();

-- Each device's latest sample: when it was received and by which broker
-- (its journal id). Raised by the writer with the seq mark.
ALTER TABLE vitals_seq_hwm ADD COLUMN IF NOT EXISTS received_at timestamptz;
ALTER TABLE vitals_seq_hwm ADD COLUMN IF NOT EXISTS journal_id text;
-- Rows written before: the latest stored sample (one index probe each).
UPDATE vitals_seq_hwm h SET received_at = (SELECT v.received_at FROM vitals v WHERE v.device_id = h.device_id
    ORDER BY v.measured_at DESC LIMIT 1) WHERE h.received_at IS NULL;

-- The condition an alert is about: a threshold alert is about one vital
-- of one device, a NEWS2 alert about one bed, a silent-device alert about
-- one device. NULL for an event that names none (never written).
CREATE OR REPLACE FUNCTION vitalgate_alert_cond(kind text, ward text, bed text, device_id text, body text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE kind
        WHEN 'threshold' THEN 'threshold/' || device_id || '/' || (body::json->'data'->>'vital')
        WHEN 'news2' THEN 'news2/' || ward || '/' || bed
        WHEN 'silent' THEN 'silent/' || device_id
    END
$$;

-- At most one open alert per condition, across every broker writing into
-- this database: the last event of each (its body), how many events it
-- has had (the next event's id derives from that count), when it was
-- raised and last changed (event times).
CREATE TABLE IF NOT EXISTS alert_open (
    cond        text        PRIMARY KEY,
    alert_id    text        NOT NULL UNIQUE,
    kind        text        NOT NULL,
    severity    text        NOT NULL,
    ward        text,
    bed         text,
    device_id   text,
    raised_at   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    transitions integer     NOT NULL,
    body        text        NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_open_ward ON alert_open (ward);

-- The alerts open before this migration (the last per condition; older
-- duplicates stay open in alert_events as they were).
INSERT INTO alert_open (cond, alert_id, kind, severity, ward, bed, device_id, raised_at, updated_at, transitions, body)
SELECT DISTINCT ON (x.cond) x.cond, x.alert_id, x.kind, x.severity, x.ward, x.bed, x.device_id, x.raised_at,
       x.created_at, x.transitions, x.body
FROM (SELECT vitalgate_alert_cond(o.kind, o.ward, o.bed, o.device_id, o.body) AS cond, o.*,
             (SELECT min(e.created_at) FROM alert_events e WHERE e.alert_id = o.alert_id) AS raised_at,
             (SELECT count(*) FROM alert_events e WHERE e.alert_id = o.alert_id) AS transitions
      FROM open_alerts o) x
WHERE x.cond IS NOT NULL
ORDER BY x.cond, x.raised_at DESC, x.alert_id DESC
ON CONFLICT DO NOTHING;

-- Closes alert `loser` (its condition has a newer alert, `winner`) with an
-- alert.resolved event written here, its body the alert's last one with
-- severity none and a note. Returns the event when it was new (nothing
-- when the alert already has it, or was resolved already).
CREATE OR REPLACE FUNCTION vitalgate_alert_supersede(loser text, winner text, jid text)
RETURNS TABLE (event_id text, alert_id text, kind text, ward text, bed text, device_id text, order_key text,
               created_ms bigint, body text)
LANGUAGE plpgsql AS $$
DECLARE
    last record;
    b jsonb;
    ts text := to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
    eid text := 'evt_' || left(encode(sha256(convert_to(loser || ':superseded', 'UTF8')), 'hex'), 32);
BEGIN
    IF EXISTS (SELECT 1 FROM alert_events a WHERE a.alert_id = loser AND a.type = 'alert.resolved') THEN
        RETURN;
    END IF;
    SELECT * INTO last FROM alert_events a WHERE a.alert_id = loser ORDER BY a.created_at DESC, a.event_id DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    b := last.body::jsonb;
    b := jsonb_set(b, '{type}', '"alert.resolved"');
    b := jsonb_set(b, '{timestamp}', to_jsonb(ts));
    b := jsonb_set(b, '{data,previous_severity}', to_jsonb(last.severity));
    b := jsonb_set(b, '{data,severity}', '"none"');
    b := jsonb_set(b, '{data,resolved_at}', to_jsonb(ts));
    b := jsonb_set(b, '{data,note}', to_jsonb('superseded by ' || winner
        || ': another instance of the cell raised the same condition'));
    RETURN QUERY
    INSERT INTO alert_events AS a (event_id, alert_id, type, kind, severity, ward, bed, device_id, order_key,
                                   created_at, body, journal_id, lsn)
    VALUES (eid, loser, 'alert.resolved', last.kind, 'none', last.ward, last.bed, last.device_id, last.order_key,
            now(), b::text, jid, NULL)
    ON CONFLICT DO NOTHING
    RETURNING a.event_id, a.alert_id, a.kind, a.ward, a.bed, a.device_id, a.order_key,
              (extract(epoch FROM a.created_at) * 1000)::bigint, a.body;
END;
$$;

-- The writer's part, in the transaction that stored a batch's events (its
-- session's staging table vg_stage_events, in journal order): each event
-- moves its condition's row. A raise opens it; a newer raise of the same
-- condition (another instance raised it without seeing the first)
-- replaces it, and the older alert is closed (vitalgate_alert_supersede);
-- an older raise arriving later (a journal replayed after a crash) is
-- closed at once. An update changes it, a resolution removes it; events of
-- an alert that is not the condition's open one change nothing. Returns
-- the closing events written, for the broker to publish and deliver.
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
            IF e.type = 'alert.resolved' THEN
                DELETE FROM alert_open o WHERE o.cond = k;
            ELSIF et >= cur.updated_at THEN
                UPDATE alert_open o SET severity = e.severity, updated_at = et, transitions = greatest(n, o.transitions),
                    body = e.body WHERE o.cond = k;
            ELSE
                UPDATE alert_open o SET transitions = greatest(n, o.transitions) WHERE o.cond = k;
            END IF;
        END IF;
    END LOOP;
END;
$$;
