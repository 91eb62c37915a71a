-- SQLite twin of the MySQL migration of the same name: the descending
-- clock (Dutch auction), its stored schedule and anchor, an accept's units,
-- and one sale per accept. The sales table is rebuilt without its UNIQUE
-- auction_id (see metadata.toml for why foreign keys are off around it).
PRAGMA foreign_keys = OFF;
BEGIN;

ALTER TABLE auctions ADD COLUMN format TEXT NOT NULL DEFAULT 'english'
    CHECK (format IN ('english', 'dutch'));

CREATE TABLE clocks (
    auction_id    BIGINT    NOT NULL PRIMARY KEY REFERENCES auctions (id) ON DELETE CASCADE,
    floor_price   BIGINT    NOT NULL,
    step          BIGINT    NOT NULL,
    step_seconds  INTEGER   NOT NULL,
    pause_seconds INTEGER   NOT NULL,
    quantity      INTEGER   NOT NULL,
    remaining     INTEGER   NOT NULL,
    anchor_at     TIMESTAMP NOT NULL,
    anchor_price  BIGINT    NOT NULL,
    told_at       TIMESTAMP NULL,
    CHECK (floor_price > 0 AND step > 0 AND step_seconds > 0 AND pause_seconds >= 0
        AND quantity > 0 AND remaining >= 0 AND remaining <= quantity AND anchor_price >= floor_price)
);

ALTER TABLE bids ADD COLUMN units INTEGER NOT NULL DEFAULT 1;

CREATE TABLE sales_new (
    id                INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    auction_id        BIGINT    NOT NULL REFERENCES auctions (id),
    seller_id         BIGINT    NOT NULL REFERENCES users (id),
    buyer_id          BIGINT    NOT NULL REFERENCES users (id),
    price             BIGINT    NOT NULL,
    fee_paid          BIGINT    NOT NULL DEFAULT 0,
    escrow            BIGINT    NOT NULL,
    state             TEXT      NOT NULL CHECK (state IN ('awaiting_details', 'awaiting_shipment', 'shipped', 'ready_for_pickup', 'received', 'settled', 'disputed', 'cancelled', 'refunded')),
    state_since       TIMESTAMP NOT NULL,
    offers_pickup     BOOLEAN   NOT NULL,
    courier_fee       BIGINT    NULL,
    delivery          TEXT      NULL CHECK (delivery IS NULL OR delivery IN ('pickup', 'courier')),
    recipient         TEXT      NULL,
    phone             TEXT      NULL,
    postcode          TEXT      NULL,
    line1             TEXT      NULL,
    line2             TEXT      NULL,
    courier           TEXT      NULL,
    tracking_number   TEXT      NULL,
    handover_code     TEXT      NULL,
    failed_handovers  INTEGER   NOT NULL DEFAULT 0,
    reminded_at       TIMESTAMP NULL,
    dispute_reason    TEXT      NULL,
    to_seller         BIGINT    NULL,
    to_buyer          BIGINT    NULL,
    ended_at          TIMESTAMP NULL,
    version           BIGINT    NOT NULL DEFAULT 0,
    created_at        TIMESTAMP NOT NULL,
    units             INTEGER   NOT NULL DEFAULT 1,
    bid_seq           BIGINT    NULL,
    CHECK (price > 0 AND fee_paid >= 0 AND escrow >= 0 AND escrow <= price + fee_paid)
);
INSERT INTO sales_new (id, auction_id, seller_id, buyer_id, price, fee_paid, escrow, state, state_since, offers_pickup, courier_fee, delivery, recipient, phone, postcode, line1, line2, courier, tracking_number, handover_code, failed_handovers, reminded_at, dispute_reason, to_seller, to_buyer, ended_at, version, created_at)
    SELECT id, auction_id, seller_id, buyer_id, price, fee_paid, escrow, state, state_since, offers_pickup, courier_fee, delivery, recipient, phone, postcode, line1, line2, courier, tracking_number, handover_code, failed_handovers, reminded_at, dispute_reason, to_seller, to_buyer, ended_at, version, created_at FROM sales;
DROP TABLE sales;
ALTER TABLE sales_new RENAME TO sales;
CREATE INDEX ix_sales_buyer ON sales (buyer_id, id);
CREATE INDEX ix_sales_seller ON sales (seller_id, id);
CREATE INDEX ix_sales_state ON sales (state, state_since);
CREATE INDEX ix_sales_auction ON sales (auction_id, id);
CREATE UNIQUE INDEX uq_sales_auction_bid ON sales (auction_id, bid_seq);

COMMIT;
PRAGMA foreign_keys = ON;
