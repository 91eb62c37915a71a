DROP INDEX ix_auctions_starts;
ALTER TABLE auctions DROP COLUMN opened_at;
ALTER TABLE auctions DROP COLUMN starts_at;
ALTER TABLE auctions DROP COLUMN buy_now_price;
ALTER TABLE auctions DROP COLUMN increment_rule;
