-- Vitalgate schema, migration 009: reserved (numbers 010 and 011 were given
-- to two changes developed side by side; migrations have no gaps).
SELECT 1;
