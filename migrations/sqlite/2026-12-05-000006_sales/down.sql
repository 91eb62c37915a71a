ALTER TABLE photos DROP COLUMN sale_id;
DROP TABLE sale_ratings;
DROP TABLE sale_events;
DROP TABLE sales;
