-- SQLite twin of the MySQL migration of the same name (a column's CHECK is
-- allowed in ADD COLUMN; a table constraint is not).
ALTER TABLE auctions ADD COLUMN increment_rule TEXT NOT NULL DEFAULT 'fixed'
    CHECK (increment_rule IN ('fixed', 'tiered'));
ALTER TABLE auctions ADD COLUMN buy_now_price BIGINT NULL
    CHECK (buy_now_price IS NULL OR buy_now_price >= start_price);
ALTER TABLE auctions ADD COLUMN starts_at TIMESTAMP NULL;
ALTER TABLE auctions ADD COLUMN opened_at TIMESTAMP NULL;
CREATE INDEX ix_auctions_starts ON auctions (starts_at);
