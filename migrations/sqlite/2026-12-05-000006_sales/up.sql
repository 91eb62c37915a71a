-- A sold auction's way to the handover: the winner's points wait in the
-- sale's escrow until the buyer has the fish. One sale per auction; the
-- version guards every step so two of them never both apply.
CREATE TABLE sales (
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
CREATE INDEX ix_sales_buyer ON sales (buyer_id, id);
CREATE INDEX ix_sales_seller ON sales (seller_id, id);
CREATE INDEX ix_sales_state ON sales (state, state_since);

-- Each step of a sale, in order: its timeline.
CREATE TABLE sale_events (
    id       INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    sale_id  BIGINT    NOT NULL REFERENCES sales (id) ON DELETE CASCADE,
    event    TEXT      NOT NULL,
    actor_id BIGINT    NULL,
    at       TIMESTAMP NOT NULL
);
CREATE INDEX ix_sale_events_sale ON sale_events (sale_id, id);

-- After settlement each side rates the other once.
CREATE TABLE sale_ratings (
    sale_id    BIGINT    NOT NULL REFERENCES sales (id) ON DELETE CASCADE,
    rater_id   BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ratee_id   BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stars      SMALLINT  NOT NULL CHECK (stars BETWEEN 1 AND 5),
    comment    TEXT      NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (sale_id, rater_id)
);
CREATE INDEX ix_sale_ratings_ratee ON sale_ratings (ratee_id, created_at);

-- A dispute's photos belong to its sale (and are kept from the sweep).
ALTER TABLE photos ADD COLUMN sale_id BIGINT NULL;

-- Escrow in (the winner's points, the courier fee) and back out to the
-- buyer are ledger lines of their own. SQLite cannot change a CHECK in
-- place: the table is rebuilt with the same rows.
CREATE TABLE ledger_entries_new (
    id            INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    user_id       BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          TEXT      NOT NULL CHECK (kind IN ('charge', 'withdraw', 'hold', 'release', 'payment', 'sale', 'adjust_credit', 'adjust_debit', 'payout_return', 'escrow', 'refund')),
    amount        BIGINT    NOT NULL,
    balance_after BIGINT    NOT NULL,
    held_after    BIGINT    NOT NULL,
    auction_id    BIGINT    NULL,
    created_at    TIMESTAMP NOT NULL
);
INSERT INTO ledger_entries_new (id, user_id, kind, amount, balance_after, held_after, auction_id, created_at)
    SELECT id, user_id, kind, amount, balance_after, held_after, auction_id, created_at FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_new RENAME TO ledger_entries;
CREATE INDEX ix_ledger_user ON ledger_entries (user_id, id);
