ALTER TABLE sales ADD UNIQUE KEY uq_sales_auction (auction_id);
ALTER TABLE sales DROP INDEX uq_sales_auction_bid, DROP INDEX ix_sales_auction, DROP COLUMN bid_seq, DROP COLUMN units;
ALTER TABLE bids DROP COLUMN units;
DROP TABLE clocks;
ALTER TABLE auctions DROP CONSTRAINT ck_auctions_format, DROP COLUMN format;
