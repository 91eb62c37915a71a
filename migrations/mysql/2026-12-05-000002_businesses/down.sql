DROP INDEX ix_pickups_counted ON pickups;
ALTER TABLE pickups DROP COLUMN counted_at, DROP COLUMN weight_confirmed_at;
DROP TABLE businesses;
