PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE sales_old (
    id                INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    auction_id        BIGINT    NOT NULL UNIQUE REFERENCES auctions (id),
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
    CHECK (price > 0 AND fee_paid >= 0 AND escrow >= 0 AND escrow <= price + fee_paid)
);
INSERT INTO sales_old (id, auction_id, seller_id, buyer_id, price, fee_paid, escrow, state, state_since, offers_pickup, courier_fee, delivery, recipient, phone, postcode, line1, line2, courier, tracking_number, handover_code, failed_handovers, reminded_at, dispute_reason, to_seller, to_buyer, ended_at, version, created_at)
    SELECT id, auction_id, seller_id, buyer_id, price, fee_paid, escrow, state, state_since, offers_pickup, courier_fee, delivery, recipient, phone, postcode, line1, line2, courier, tracking_number, handover_code, failed_handovers, reminded_at, dispute_reason, to_seller, to_buyer, ended_at, version, created_at FROM sales;
DROP TABLE sales;
ALTER TABLE sales_old RENAME TO sales;
CREATE INDEX ix_sales_buyer ON sales (buyer_id, id);
CREATE INDEX ix_sales_seller ON sales (seller_id, id);
CREATE INDEX ix_sales_state ON sales (state, state_since);
ALTER TABLE bids DROP COLUMN units;
DROP TABLE clocks;
ALTER TABLE auctions DROP COLUMN format;
COMMIT;
PRAGMA foreign_keys = ON;
