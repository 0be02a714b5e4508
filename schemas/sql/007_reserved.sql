-- Vitalgate schema, migration 007: reserved for issue #14 (cells), which
-- lands its own 007 in parallel; this placeholder only keeps the numbering
-- without gaps (schemas/embed-sql.mjs) on the branch of issue #17 (whose
-- migration is 008). Delete this file when #14's 007 is merged: nothing
-- depends on it.
SELECT 1;
