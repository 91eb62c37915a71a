ALTER TABLE auctions
    DROP CONSTRAINT ck_auctions_buy_now,
    DROP CONSTRAINT ck_auctions_increment_rule,
    DROP COLUMN buy_now_price,
    DROP COLUMN increment_rule;
