-- The descending clock (Dutch auction): the price falls from the start
-- price a step at a time; each accept buys some units and is a sale of its
-- own. The clock's schedule and its anchor (the price and moment its
-- current fall began) are stored; the price at any moment is computed from
-- them, so every instance reads the same clock. `told_at` guards the step
-- frames: one instance announces each step.
ALTER TABLE auctions
    ADD COLUMN format VARCHAR(8) NOT NULL DEFAULT 'english',
    ADD CONSTRAINT ck_auctions_format CHECK (format IN ('english', 'dutch'));

CREATE TABLE clocks (
    auction_id    BIGINT      NOT NULL,
    floor_price   BIGINT      NOT NULL,
    step          BIGINT      NOT NULL,
    step_seconds  INT         NOT NULL,
    pause_seconds INT         NOT NULL,
    quantity      INT         NOT NULL,
    remaining     INT         NOT NULL,
    anchor_at     DATETIME(6) NOT NULL,
    anchor_price  BIGINT      NOT NULL,
    told_at       DATETIME(6) NULL,
    PRIMARY KEY (auction_id),
    CONSTRAINT fk_clocks_auction FOREIGN KEY (auction_id) REFERENCES auctions (id) ON DELETE CASCADE,
    CONSTRAINT ck_clocks CHECK (floor_price > 0 AND step > 0 AND step_seconds > 0 AND pause_seconds >= 0
        AND quantity > 0 AND remaining >= 0 AND remaining <= quantity AND anchor_price >= floor_price)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- An accept's units (a bid is one).
ALTER TABLE bids ADD COLUMN units INT NOT NULL DEFAULT 1;

-- A clock sells to several buyers: one sale per accept (its bid's number),
-- no longer one per auction.
ALTER TABLE sales
    ADD COLUMN units INT NOT NULL DEFAULT 1,
    ADD COLUMN bid_seq BIGINT NULL,
    ADD KEY ix_sales_auction (auction_id, id),
    ADD UNIQUE KEY uq_sales_auction_bid (auction_id, bid_seq);
ALTER TABLE sales DROP INDEX uq_sales_auction;
