-- Vitalgate schema, migration 001: identities, bed assignments, vitals,
-- rejections. Applied by `vitalgate-admin migrate` inside one transaction,
-- recorded in schema_migrations; every statement is also safe to re-run.

CREATE TABLE IF NOT EXISTS identities (
    id          text        PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    role        text        NOT NULL CHECK (role IN ('device', 'station', 'service')),
    secret_hash text        NOT NULL CHECK (secret_hash ~ '^s256\$[0-9a-f]{32}\$[0-9a-f]{64}$'),
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Where a device is: one row per assigned device. Several devices (monitor,
-- oximeter, pump) may share a bed.
CREATE TABLE IF NOT EXISTS bed_assignments (
    device_id   text        PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
    ward        text        NOT NULL CHECK (ward ~ '^[A-Za-z0-9_-]{1,64}$'),
    bed         text        NOT NULL CHECK (bed ~ '^[A-Za-z0-9_-]{1,64}$'),
    assigned_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS bed_assignments_ward_bed ON bed_assignments (ward, bed);

-- Which wards a nurses' station may read.
CREATE TABLE IF NOT EXISTS station_wards (
    station_id  text        NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    ward        text        NOT NULL CHECK (ward ~ '^[A-Za-z0-9_-]{1,64}$'),
    PRIMARY KEY (station_id, ward)
);

-- Running brokers LISTEN on this channel; the payload is the identity id
-- whose row (or assignment, or wards) changed.
CREATE OR REPLACE FUNCTION vitalgate_notify_identity() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ident text;
BEGIN
    IF TG_TABLE_NAME = 'identities' THEN
        ident := COALESCE(NEW.id, OLD.id);
    ELSIF TG_TABLE_NAME = 'bed_assignments' THEN
        ident := COALESCE(NEW.device_id, OLD.device_id);
    ELSE
        ident := COALESCE(NEW.station_id, OLD.station_id);
    END IF;
    PERFORM pg_notify('vitalgate_identity', ident);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS identities_notify ON identities;
CREATE TRIGGER identities_notify AFTER INSERT OR UPDATE OR DELETE ON identities
    FOR EACH ROW EXECUTE FUNCTION vitalgate_notify_identity();
DROP TRIGGER IF EXISTS bed_assignments_notify ON bed_assignments;
CREATE TRIGGER bed_assignments_notify AFTER INSERT OR UPDATE OR DELETE ON bed_assignments
    FOR EACH ROW EXECUTE FUNCTION vitalgate_notify_identity();
DROP TRIGGER IF EXISTS station_wards_notify ON station_wards;
CREATE TRIGGER station_wards_notify AFTER INSERT OR UPDATE OR DELETE ON station_wards
    FOR EACH ROW EXECUTE FUNCTION vitalgate_notify_identity();

-- One row per accepted sample. Partitioned by measurement day; the writer
-- creates partitions ahead (vitalgate_ensure_partitions) and the default
-- partition only catches what no day partition covers (it should stay empty).
-- A partitioned table's unique index must contain the partition key, so
-- uniqueness is (device_id, seq, measured_at): a retransmit repeats all
-- three. The broker additionally drops a repeated (device_id, seq) it has
-- seen, whatever its ts (docs/ingest.md).
CREATE TABLE IF NOT EXISTS vitals (
    device_id   text        NOT NULL,
    seq         bigint      NOT NULL CHECK (seq >= 0),
    measured_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    ward        text,
    bed         text,
    hr          smallint    CHECK (hr BETWEEN 0 AND 300),
    spo2        smallint    CHECK (spo2 BETWEEN 0 AND 100),
    rr          smallint    CHECK (rr BETWEEN 0 AND 120),
    sbp         smallint    CHECK (sbp BETWEEN 0 AND 300),
    dbp         smallint    CHECK (dbp BETWEEN 0 AND 200),
    map         smallint    CHECK (map BETWEEN 0 AND 250),
    temp        real        CHECK (temp BETWEEN 25 AND 45),
    o2          boolean,
    avpu        char(1)     CHECK (avpu IN ('A', 'C', 'V', 'P', 'U')),
    CHECK (dbp IS NULL OR sbp IS NULL OR dbp < sbp)
) PARTITION BY RANGE (measured_at);

CREATE TABLE IF NOT EXISTS vitals_default PARTITION OF vitals DEFAULT;

CREATE UNIQUE INDEX IF NOT EXISTS vitals_device_seq ON vitals (device_id, seq, measured_at);
-- The Node.js core's queries: latest per bed, one device over a time range.
CREATE INDEX IF NOT EXISTS vitals_bed_time ON vitals (ward, bed, measured_at DESC);
CREATE INDEX IF NOT EXISTS vitals_device_time ON vitals (device_id, measured_at DESC);

-- Creates the day partitions covering [from_day, to_day] (UTC days).
CREATE OR REPLACE FUNCTION vitalgate_ensure_partitions(from_day date, to_day date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d date := from_day;
    made integer := 0;
    name text;
BEGIN
    WHILE d <= to_day LOOP
        name := 'vitals_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF vitals FOR VALUES FROM (%L) TO (%L)',
                name, (d::timestamp AT TIME ZONE 'UTC'), ((d + 1)::timestamp AT TIME ZONE 'UTC'));
            made := made + 1;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN made;
END;
$$;

-- Every rejected message, for audit: what the device sent and why it was
-- refused. (journal_id, lsn) identifies the journal record it came from, so
-- a replay after a crash stores it once.
CREATE TABLE IF NOT EXISTS rejections (
    id          bigserial   PRIMARY KEY,
    device_id   text        NOT NULL,
    received_at timestamptz NOT NULL,
    reason      text        NOT NULL,
    field       text,
    detail      text,
    seq         bigint,
    batch_index integer,
    payload     bytea       NOT NULL,
    journal_id  text        NOT NULL,
    lsn         bigint      NOT NULL,
    UNIQUE (journal_id, lsn)
);
CREATE INDEX IF NOT EXISTS rejections_device_time ON rejections (device_id, received_at DESC);
