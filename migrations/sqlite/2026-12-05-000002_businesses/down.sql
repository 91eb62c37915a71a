DROP INDEX ix_pickups_counted;
ALTER TABLE pickups DROP COLUMN counted_at;
ALTER TABLE pickups DROP COLUMN weight_confirmed_at;
DROP TABLE businesses;
