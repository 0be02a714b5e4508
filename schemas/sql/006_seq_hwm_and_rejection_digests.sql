-- Vitalgate schema, migration 005: (device_id, seq) unique across
-- partitions whatever the broker knows, and a bounded cost per rejection.
-- Every statement is safe to re-run.

-- Each device's highest stored seq. `vitals` is partitioned by measured_at,
-- so its unique index (device_id, seq, measured_at) cannot see the same
-- seq sent again with another ts, in another partition. The writer locks
-- the rows of a batch's devices (FOR UPDATE, in device_id order, so two
-- writers wait for each other instead of deadlocking), stores a row whose
-- seq is above the mark as it is, a row at or below it only if no
-- partition holds that (device_id, seq), and raises the marks in the same
-- transaction. A device's row is created on its first batch from the
-- highest seq already stored (rows written before this migration count).
-- Only the writer inserts into vitals; anything else that does must keep
-- this table up to date too.
CREATE TABLE IF NOT EXISTS vitals_seq_hwm (
    device_id   text        PRIMARY KEY,
    seq         bigint      NOT NULL
);

-- A rejection row keeps what identifies the refused message without
-- storing all of it: `payload` holds its first 512 bytes, payload_bytes
-- its length and payload_sha256 the SHA-256 of all of it. Rows with reason
-- 'suppressed' stand for `suppressed` rejections of that device the broker
-- counted instead of recording one by one (over its
-- rejection_records_per_min, or no room in the journal); their detail
-- says when and why.
ALTER TABLE rejections ADD COLUMN IF NOT EXISTS payload_bytes integer NOT NULL DEFAULT 0;
ALTER TABLE rejections ADD COLUMN IF NOT EXISTS payload_sha256 bytea;
ALTER TABLE rejections ADD COLUMN IF NOT EXISTS suppressed integer NOT NULL DEFAULT 0;
-- Rows of earlier versions hold the whole payload.
UPDATE rejections SET payload_bytes = length(payload), payload_sha256 = sha256(payload)
    WHERE payload_sha256 IS NULL AND reason <> 'suppressed';
