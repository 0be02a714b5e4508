-- Vitalgate schema, migration 008: patient context columns, per-minute
-- rollups, retention (docs/operations.md#storage-retention-and-rollups,
-- docs/fhir.md). Every statement is safe to re-run.

-- ---- patient context ----------------------------------------------------
-- The occupant of the sample's bed at its ts (the contract's "Patient
-- context"): NULL when the bed was vacant or nobody said. Filled by the
-- writer from the occupancy history (issue #17, occupancy half); read by
-- `vitalgate-admin export fhir` (Observation.subject, .encounter).
ALTER TABLE vitals ADD COLUMN IF NOT EXISTS patient_id text;
ALTER TABLE vitals ADD COLUMN IF NOT EXISTS encounter_id text;
ALTER TABLE alert_events ADD COLUMN IF NOT EXISTS patient_id text;
ALTER TABLE alert_events ADD COLUMN IF NOT EXISTS encounter_id text;
-- `export fhir --patient P`; partial, so it costs nothing for samples of
-- no known patient.
CREATE INDEX IF NOT EXISTS vitals_patient_time ON vitals (patient_id, measured_at)
    WHERE patient_id IS NOT NULL;
-- Time ranges over all devices (the rollup of a minute, the oldest row
-- kept): rows arrive in about measured_at order, so a BRIN index is a few
-- pages per day partition and costs next to nothing to maintain.
CREATE INDEX IF NOT EXISTS vitals_measured_brin ON vitals USING brin (measured_at)
    WITH (autosummarize = on);

-- ---- per-minute rollups -------------------------------------------------
-- One row per device, minute and context (ward, bed, patient, encounter:
-- a minute in which a device moved, or its bed's occupant changed, has one
-- row per context, so two patients' values are never mixed). For each
-- numeric measurement <v> of schemas/vitals/v1.json: <v>_n (samples that
-- carried it; NULL for none), <v>_min, <v>_max (the column's own type) and
-- <v>_mean. A vital added later adds these four columns in its migration
-- (docs/adding-a-vital.md; tests/check-migrations.mjs checks them):
-- vitalgate_rollup() finds them by name. Kept rollup_retention_days
-- (monthly partitions, dropped whole).
CREATE TABLE IF NOT EXISTS vitals_rollup_1m (
    device_id    text        NOT NULL,
    minute       timestamptz NOT NULL,
    ward         text,
    bed          text,
    patient_id   text,
    encounter_id text,
    samples      integer     NOT NULL,
    hr_n integer, hr_min smallint, hr_max smallint, hr_mean real,
    spo2_n integer, spo2_min smallint, spo2_max smallint, spo2_mean real,
    rr_n integer, rr_min smallint, rr_max smallint, rr_mean real,
    sbp_n integer, sbp_min smallint, sbp_max smallint, sbp_mean real,
    dbp_n integer, dbp_min smallint, dbp_max smallint, dbp_mean real,
    map_n integer, map_min smallint, map_max smallint, map_mean real,
    temp_n integer, temp_min real, temp_max real, temp_mean real
) PARTITION BY RANGE (minute);
CREATE TABLE IF NOT EXISTS vitals_rollup_1m_default PARTITION OF vitals_rollup_1m DEFAULT;
CREATE INDEX IF NOT EXISTS vitals_rollup_1m_device ON vitals_rollup_1m (device_id, minute);
CREATE INDEX IF NOT EXISTS vitals_rollup_1m_brin ON vitals_rollup_1m USING brin (minute);

-- Where the rollups stand. 'closed': minutes before it are closed, and a
-- sample the writer stores for one of them marks its (device, minute) in
-- vitals_rollup_dirty, in the same transaction; the writer reads it
-- FOR SHARE, so moving it waits for the batches in flight. 'rolled':
-- minutes before it are rolled up (<= closed).
CREATE TABLE IF NOT EXISTS vitalgate_rollup_state (
    name        text        PRIMARY KEY CHECK (name IN ('closed', 'rolled')),
    until       timestamptz
);
INSERT INTO vitalgate_rollup_state (name, until) VALUES ('closed', NULL), ('rolled', NULL)
    ON CONFLICT (name) DO NOTHING;

-- (device, minute) pairs of closed minutes that received samples late
-- (a journal replay after an outage, a device's buffered batch): their
-- rollup is computed again from the raw rows.
CREATE TABLE IF NOT EXISTS vitals_rollup_dirty (
    device_id   text        NOT NULL,
    minute      timestamptz NOT NULL,
    marks       integer     NOT NULL DEFAULT 1,
    PRIMARY KEY (device_id, minute)
);

-- Monthly partitions vitals_rollup_1m_YYYYMM covering [from_ts, to_ts].
CREATE OR REPLACE FUNCTION vitalgate_ensure_rollup_partitions(from_ts timestamptz, to_ts timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', from_ts AT TIME ZONE 'UTC')::date;
    made integer := 0;
    name text;
BEGIN
    WHILE m <= (to_ts AT TIME ZONE 'UTC')::date LOOP
        name := 'vitals_rollup_1m_' || to_char(m, 'YYYYMM');
        IF to_regclass(name) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF vitals_rollup_1m FOR VALUES FROM (%L) TO (%L)',
                name, (m::timestamp AT TIME ZONE 'UTC'), ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            made := made + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN made;
END;
$$;

-- The rollup's column list and the matching aggregates over vitals, from
-- the <v>_n columns of vitals_rollup_1m whose <v> is a column of vitals.
CREATE OR REPLACE FUNCTION vitalgate_rollup_columns(OUT cols text, OUT aggs text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v text;
BEGIN
    cols := '';
    aggs := '';
    FOR v IN SELECT left(a.attname, -2) FROM pg_attribute a
            WHERE a.attrelid = 'vitals_rollup_1m'::regclass AND a.attnum > 0 AND NOT a.attisdropped
              AND a.attname LIKE '%\_n'
              AND EXISTS (SELECT 1 FROM pg_attribute b WHERE b.attrelid = 'vitals'::regclass
                          AND b.attname = left(a.attname, -2) AND b.attnum > 0 AND NOT b.attisdropped)
            ORDER BY a.attnum LOOP
        cols := cols || format(', %I, %I, %I, %I', v || '_n', v || '_min', v || '_max', v || '_mean');
        aggs := aggs || format(', NULLIF(count(v.%1$I), 0), min(v.%1$I), max(v.%1$I), avg(v.%1$I)::real', v);
    END LOOP;
END;
$$;

-- Rolls up the minutes closed by p_now (each minute once it ended at
-- least a minute before p_now), at most p_max_minutes of them per call
-- (`behind` says more are waiting), and computes again the (device,
-- minute) pairs marked late. Two transactions: the first moves 'closed'
-- (waiting for the writer's batches in flight), the second aggregates.
-- Idempotent and safe to run from several brokers at once (an advisory
-- lock serialises them). The storage worker passes its clock; tests pass
-- any. Must be CALLed outside a transaction block.
CREATE OR REPLACE PROCEDURE vitalgate_rollup(p_now timestamptz, p_max_minutes integer,
        OUT minutes integer, OUT groups bigint, OUT recomputed bigint, OUT behind boolean)
LANGUAGE plpgsql AS $$
DECLARE
    horizon timestamptz := date_bin('1 minute', p_now - interval '1 minute', timestamptz 'epoch');
    first_day timestamptz;  -- where the very first call starts
    closed timestamptz;
    rolled timestamptz;
    upto timestamptz;
    c text;
    a text;
    n bigint;
    ix regclass;
BEGIN
    minutes := 0;
    groups := 0;
    recomputed := 0;
    behind := false;
    -- 1. Close the minutes up to the horizon.
    PERFORM pg_advisory_xact_lock(727384103);
    -- The first call starts at the oldest sample kept.
    IF (SELECT until IS NULL FROM vitalgate_rollup_state WHERE name = 'rolled') THEN
        first_day := date_bin('1 minute', vitalgate_oldest('vitals', 'measured_at'), timestamptz 'epoch');
        UPDATE vitalgate_rollup_state SET until = least(COALESCE(first_day, horizon), horizon)
            WHERE name = 'rolled' AND until IS NULL;
    END IF;
    UPDATE vitalgate_rollup_state SET until = horizon WHERE name = 'closed' AND (until IS NULL OR until < horizon);
    COMMIT;
    -- 2. Roll up [rolled, upto) and the late marks below upto.
    PERFORM pg_advisory_xact_lock(727384103);
    SELECT until INTO closed FROM vitalgate_rollup_state WHERE name = 'closed';
    SELECT until INTO rolled FROM vitalgate_rollup_state WHERE name = 'rolled' FOR UPDATE;
    upto := least(closed, rolled + greatest(p_max_minutes, 1) * interval '1 minute');
    behind := upto < closed;
    PERFORM vitalgate_ensure_rollup_partitions(rolled, upto);
    -- New rows of the raw partitions read below: summarised, so the BRIN
    -- index also skips the tail written since autovacuum last came by.
    FOR ix IN SELECT i.inhrelid::regclass FROM pg_inherits i
            JOIN pg_index x ON x.indexrelid = i.inhrelid JOIN pg_class t ON t.oid = x.indrelid
            WHERE i.inhparent = 'vitals_measured_brin'::regclass AND t.relname ~ '^vitals_[0-9]{8}$'
              AND to_date(substr(t.relname, 8), 'YYYYMMDD') BETWEEN (rolled AT TIME ZONE 'UTC')::date
                  AND (upto AT TIME ZONE 'UTC')::date LOOP
        PERFORM brin_summarize_new_values(ix);
    END LOOP;
    SELECT r.cols, r.aggs INTO c, a FROM vitalgate_rollup_columns() r;
    -- Late marks: taken (and deleted) unless a writer in flight holds one
    -- (it stays for the next call); those of minutes already rolled are
    -- computed again, the others are covered by the range below.
    EXECUTE format('WITH m AS (DELETE FROM vitals_rollup_dirty d WHERE (d.device_id, d.minute) IN '
            '(SELECT device_id, minute FROM vitals_rollup_dirty WHERE minute < $1 FOR UPDATE SKIP LOCKED) '
            'RETURNING d.device_id, d.minute), '
        'again AS (SELECT * FROM m WHERE minute < $2), '
        'gone AS (DELETE FROM vitals_rollup_1m r USING again g WHERE r.device_id = g.device_id AND r.minute = g.minute), '
        'ins AS (INSERT INTO vitals_rollup_1m (device_id, minute, ward, bed, patient_id, encounter_id, samples%s) '
            'SELECT v.device_id, g.minute, v.ward, v.bed, v.patient_id, v.encounter_id, count(*)%s '
            'FROM again g JOIN vitals v ON v.device_id = g.device_id AND v.measured_at >= g.minute '
            'AND v.measured_at < g.minute + interval ''1 minute'' GROUP BY 1, 2, 3, 4, 5, 6 RETURNING 1) '
        'SELECT (SELECT count(*) FROM again), (SELECT count(*) FROM ins)', c, a)
        INTO recomputed, n USING upto, rolled;
    groups := groups + n;
    IF upto > rolled THEN
        EXECUTE format('INSERT INTO vitals_rollup_1m (device_id, minute, ward, bed, patient_id, encounter_id, samples%s) '
            'SELECT v.device_id, date_bin(''1 minute'', v.measured_at, timestamptz ''epoch''), v.ward, v.bed, '
            'v.patient_id, v.encounter_id, count(*)%s FROM vitals v '
            'WHERE v.measured_at >= $1 AND v.measured_at < $2 GROUP BY 1, 2, 3, 4, 5, 6', c, a)
            USING rolled, upto;
        GET DIAGNOSTICS n = ROW_COUNT;
        groups := groups + n;
        minutes := (extract(epoch FROM upto - rolled) / 60)::integer;
        UPDATE vitalgate_rollup_state SET until = upto WHERE name = 'rolled';
    END IF;
    COMMIT;
END;
$$;

-- ---- retention ------------------------------------------------------------
-- Drops the day partitions of vitals that ended p_days or more before
-- p_now and the month partitions of vitals_rollup_1m that ended
-- p_rollup_days or more before it (0: keep forever), and deletes what the
-- default partitions hold from before those bounds. A partition another
-- session is using (a long export) is left for the next call after
-- waiting at most 1 s (`busy`): dropping one locks its parent table, and
-- the writer's inserts queue behind that lock, so it must never wait long.
CREATE OR REPLACE FUNCTION vitalgate_retention(p_now timestamptz, p_days integer, p_rollup_days integer,
        OUT raw_dropped integer, OUT rollup_dropped integer, OUT rows_deleted bigint, OUT busy integer,
        OUT dropped text)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    cutoff timestamptz;
    n bigint;
BEGIN
    raw_dropped := 0;
    rollup_dropped := 0;
    rows_deleted := 0;
    busy := 0;
    dropped := '';
    PERFORM pg_advisory_xact_lock(727384103);
    SET LOCAL lock_timeout = '1s';
    IF p_days > 0 THEN
        cutoff := p_now - p_days * interval '1 day';
        FOR r IN SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'vitals'::regclass AND c.relname ~ '^vitals_[0-9]{8}$'
                  AND (to_date(substr(c.relname, 8), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= cutoff
                ORDER BY c.relname LOOP
            BEGIN
                EXECUTE format('DROP TABLE %I', r.name);
                raw_dropped := raw_dropped + 1;
                dropped := dropped || ' ' || r.name;
            EXCEPTION WHEN lock_not_available THEN
                busy := busy + 1;
            END;
        END LOOP;
        DELETE FROM vitals_default WHERE measured_at < cutoff;
        GET DIAGNOSTICS n = ROW_COUNT;
        rows_deleted := rows_deleted + n;
    END IF;
    IF p_rollup_days > 0 THEN
        cutoff := p_now - p_rollup_days * interval '1 day';
        FOR r IN SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'vitals_rollup_1m'::regclass AND c.relname ~ '^vitals_rollup_1m_[0-9]{6}$'
                  AND (to_date(substr(c.relname, 18), 'YYYYMM') + interval '1 month') AT TIME ZONE 'UTC' <= cutoff
                ORDER BY c.relname LOOP
            BEGIN
                EXECUTE format('DROP TABLE %I', r.name);
                rollup_dropped := rollup_dropped + 1;
                dropped := dropped || ' ' || r.name;
            EXCEPTION WHEN lock_not_available THEN
                busy := busy + 1;
            END;
        END LOOP;
        DELETE FROM vitals_rollup_1m_default WHERE minute < cutoff;
        GET DIAGNOSTICS n = ROW_COUNT;
        rows_deleted := rows_deleted + n;
    END IF;
    dropped := ltrim(dropped);
END;
$$;

-- ---- what is kept -----------------------------------------------------------
-- The oldest value of col in a table partitioned by it: the first
-- non-empty partition in name order (names sort as their ranges), probed
-- from its start in growing windows (an index or BRIN range scan each),
-- and the default partition.
CREATE OR REPLACE FUNCTION vitalgate_oldest(parent regclass, col text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
    lo timestamptz;
    res timestamptz;
    step interval;
    dflt timestamptz;
BEGIN
    FOR r IN SELECT c.oid::regclass AS part, pg_get_expr(c.relpartbound, c.oid) AS bound
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = parent ORDER BY c.relname LOOP
        IF r.bound = 'DEFAULT' THEN
            EXECUTE format('SELECT min(%I) FROM %s', col, r.part) INTO dflt;
            CONTINUE;
        END IF;
        IF res IS NOT NULL THEN
            CONTINUE;
        END IF;
        lo := substring(r.bound FROM '''([^'']*)''')::timestamptz;
        step := interval '1 hour';
        WHILE res IS NULL AND step < interval '400 days' LOOP
            EXECUTE format('SELECT min(%I) FROM %s WHERE %I < $1', col, r.part, col) INTO res USING lo + step;
            step := step * 4;
        END LOOP;
    END LOOP;
    RETURN CASE WHEN res IS NULL THEN dflt WHEN dflt IS NULL THEN res ELSE least(res, dflt) END;
END;
$$;

-- `vitalgate-admin storage`: bytes on disk (tables, indexes, TOAST; every
-- partition), partitions, estimated rows and the oldest row kept, per table.
CREATE OR REPLACE FUNCTION vitalgate_storage_report()
RETURNS TABLE (name text, partitions integer, bytes bigint, rows_estimate bigint, oldest timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
            (1, 'vitals', 'measured_at'), (2, 'vitals_rollup_1m', 'minute'), (3, 'rejections', 'received_at'),
            (4, 'audit_log', 'at'), (5, 'alert_events', 'created_at'), (6, 'vitals_seq_hwm', NULL),
            (7, 'vitals_rollup_dirty', 'minute')) v(o, tbl, col) ORDER BY o LOOP
        name := t.tbl;
        SELECT count(*) FILTER (WHERE p.isleaf AND p.level > 0), COALESCE(sum(pg_total_relation_size(p.relid)), 0),
               COALESCE(sum(greatest(c.reltuples, 0)) FILTER (WHERE p.isleaf), 0)::bigint
            INTO partitions, bytes, rows_estimate
            FROM pg_partition_tree(t.tbl::regclass) p JOIN pg_class c ON c.oid = p.relid;
        IF t.col IS NULL THEN
            oldest := NULL;
        ELSIF t.tbl IN ('vitals', 'vitals_rollup_1m') THEN
            oldest := vitalgate_oldest(t.tbl::regclass, t.col);
        ELSIF t.tbl IN ('rejections', 'audit_log') THEN
            -- Ids grow with time: the first row is the oldest (one index probe).
            EXECUTE format('SELECT %I FROM %I ORDER BY id LIMIT 1', t.col, t.tbl) INTO oldest;
        ELSE
            EXECUTE format('SELECT min(%I) FROM %I', t.col, t.tbl) INTO oldest;
        END IF;
        RETURN NEXT;
    END LOOP;
END;
$$;
