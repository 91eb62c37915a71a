-- Raises that follow the price, buy-now, and scheduled starts.
-- increment_rule 'fixed': every raise is min_increment (the seller chose
-- it; every auction before this migration). 'tiered': the raise follows the
-- price table in sitga-auction (`tiered_increment`); min_increment then
-- holds the raise at the start price, for readers of the column alone.
ALTER TABLE auctions
    ADD COLUMN increment_rule VARCHAR(8) NOT NULL DEFAULT 'fixed',
    ADD COLUMN buy_now_price  BIGINT     NULL,
    -- Bids open at starts_at (NULL: at creation). opened_at is set once, by
    -- the one instance whose guarded UPDATE announces the start to the
    -- room (at creation for an auction that starts at once).
    ADD COLUMN starts_at      DATETIME(6) NULL,
    ADD COLUMN opened_at      DATETIME(6) NULL,
    ADD CONSTRAINT ck_auctions_increment_rule CHECK (increment_rule IN ('fixed', 'tiered')),
    ADD CONSTRAINT ck_auctions_buy_now CHECK (buy_now_price IS NULL OR buy_now_price >= start_price);
CREATE INDEX ix_auctions_starts ON auctions (starts_at);
