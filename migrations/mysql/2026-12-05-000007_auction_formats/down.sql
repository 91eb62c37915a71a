DROP INDEX ix_auctions_starts ON auctions;
ALTER TABLE auctions
    DROP CONSTRAINT ck_auctions_buy_now,
    DROP CONSTRAINT ck_auctions_increment_rule,
    DROP COLUMN opened_at,
    DROP COLUMN starts_at,
    DROP COLUMN buy_now_price,
    DROP COLUMN increment_rule;
