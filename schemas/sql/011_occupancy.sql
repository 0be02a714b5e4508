-- Vitalgate schema, migration 011: bed occupancy from the core
-- (adt/<ward>/<bed>, docs/patient-context.md). Every statement is safe to
-- re-run.

-- Each bed's occupancy history, one row per validity interval
-- [since, until) (until NULL: the current one). A vacant interval has no
-- patient. Rows never overlap: a message's since closes the interval
-- before it and replaces every interval at or after it (a correction).
CREATE TABLE IF NOT EXISTS bed_occupancy (
    ward         text        NOT NULL,
    bed          text        NOT NULL,
    since        timestamptz NOT NULL,
    until        timestamptz,
    patient_id   text,
    encounter_id text,
    label        text,
    received_at  timestamptz NOT NULL,
    published_by text        NOT NULL,
    PRIMARY KEY (ward, bed, since),
    CHECK ((patient_id IS NULL) = (encounter_id IS NULL)),
    CHECK (until IS NULL OR until > since)
);

-- Every occupancy message the broker took, as it came (the history above
-- keeps only what holds now), with the samples it re-linked. (journal_id,
-- lsn) makes a journal replay apply each message once.
CREATE TABLE IF NOT EXISTS bed_occupancy_log (
    id           bigserial   PRIMARY KEY,
    ward         text        NOT NULL,
    bed          text        NOT NULL,
    since        timestamptz NOT NULL,
    patient_id   text,
    encounter_id text,
    label        text,
    received_at  timestamptz NOT NULL,
    published_by text        NOT NULL,
    relinked     bigint      NOT NULL,
    journal_id   text        NOT NULL,
    lsn          bigint      NOT NULL,
    UNIQUE (journal_id, lsn)
);
CREATE INDEX IF NOT EXISTS bed_occupancy_log_bed ON bed_occupancy_log (ward, bed, received_at);

-- Samples of a bed in a time range (re-linking after a late message).
CREATE INDEX IF NOT EXISTS vitals_ward_bed_time ON vitals (ward, bed, measured_at) WHERE ward IS NOT NULL;

-- Applies one occupancy message (the writer calls it in journal order, in
-- the batch's transaction, before the batch's samples are inserted: those
-- are linked by the INSERT itself). Returns the samples already stored that
-- it re-linked, or -1 when (journal_id, lsn) was applied before (a replay).
-- A vacant bed that is vacant already keeps when it became so.
CREATE OR REPLACE FUNCTION vitalgate_occupancy_apply(p_ward text, p_bed text, p_since timestamptz,
        p_patient text, p_encounter text, p_label text, p_received timestamptz, p_by text,
        p_journal text, p_lsn bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint := 0;
    cur bed_occupancy%ROWTYPE;
    closed timestamptz;
BEGIN
    IF EXISTS (SELECT 1 FROM bed_occupancy_log WHERE journal_id = p_journal AND lsn = p_lsn) THEN
        RETURN -1;
    END IF;
    -- One writer at a time per bed (two brokers' writers).
    PERFORM pg_advisory_xact_lock(hashtext('vitalgate_occupancy'), hashtext(p_ward || '/' || p_bed));
    SELECT * INTO cur FROM bed_occupancy WHERE ward = p_ward AND bed = p_bed AND until IS NULL;
    IF p_patient IS NULL AND FOUND AND cur.patient_id IS NULL AND cur.since <= p_since THEN
        NULL;   -- vacant already
    ELSE
        DELETE FROM bed_occupancy WHERE ward = p_ward AND bed = p_bed AND since >= p_since;
        UPDATE bed_occupancy SET until = p_since
            WHERE ward = p_ward AND bed = p_bed AND since < p_since AND (until IS NULL OR until > p_since);
        INSERT INTO bed_occupancy (ward, bed, since, until, patient_id, encounter_id, label, received_at, published_by)
            VALUES (p_ward, p_bed, p_since, NULL, p_patient, p_encounter, p_label, p_received, p_by);
        -- The bed's samples from since on belong to this occupant (or to
        -- nobody); a rollup minute already computed is computed again.
        SELECT until INTO closed FROM vitalgate_rollup_state WHERE name = 'closed';
        WITH upd AS (
            UPDATE vitals SET patient_id = p_patient, encounter_id = p_encounter
            WHERE ward = p_ward AND bed = p_bed AND measured_at >= p_since
              AND (patient_id IS DISTINCT FROM p_patient OR encounter_id IS DISTINCT FROM p_encounter)
            RETURNING device_id, measured_at),
        dirty AS (
            INSERT INTO vitals_rollup_dirty (device_id, minute)
            SELECT DISTINCT device_id, date_bin('1 minute', measured_at, timestamptz 'epoch') FROM upd
            WHERE measured_at < closed
            ON CONFLICT (device_id, minute) DO UPDATE SET marks = vitals_rollup_dirty.marks + 1)
        SELECT count(*) INTO n FROM upd;
    END IF;
    INSERT INTO bed_occupancy_log (ward, bed, since, patient_id, encounter_id, label, received_at, published_by,
            relinked, journal_id, lsn)
        VALUES (p_ward, p_bed, p_since, p_patient, p_encounter, p_label, p_received, p_by, n, p_journal, p_lsn);
    RETURN n;
END;
$$;

-- The occupant of ward/bed at time t (NULLs: vacant or unknown).
CREATE OR REPLACE FUNCTION vitalgate_occupant_at(p_ward text, p_bed text, t timestamptz,
        OUT patient_id text, OUT encounter_id text)
LANGUAGE sql STABLE AS $$
    SELECT o.patient_id, o.encounter_id FROM bed_occupancy o
    WHERE o.ward = p_ward AND o.bed = p_bed AND o.since <= t AND (o.until IS NULL OR o.until > t)
    ORDER BY o.since DESC LIMIT 1
$$;
