ALTER TABLE auctions DROP COLUMN buy_now_price;
ALTER TABLE auctions DROP COLUMN increment_rule;
