-- Vitalgate schema, migration 010: reserved for the parallel branches of
-- issues #15/#16, which land their own 010; this placeholder only keeps the
-- numbering without gaps (schemas/embed-sql.mjs) on the branch of issue #17's
-- occupancy half (whose migration is 011). Delete this file when their 010
-- is merged: nothing depends on it.
SELECT 1;
