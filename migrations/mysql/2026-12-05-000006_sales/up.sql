-- A sold auction's way to the handover: the winner's points wait in the
-- sale's escrow until the buyer has the fish. One sale per auction; the
-- version guards every step so two of them never both apply.
CREATE TABLE sales (
    id                BIGINT       NOT NULL AUTO_INCREMENT,
    auction_id        BIGINT       NOT NULL,
    seller_id         BIGINT       NOT NULL,
    buyer_id          BIGINT       NOT NULL,
    price             BIGINT       NOT NULL,
    fee_paid          BIGINT       NOT NULL DEFAULT 0,
    escrow            BIGINT       NOT NULL,
    state             VARCHAR(24)  NOT NULL,
    state_since       DATETIME(6)  NOT NULL,
    offers_pickup     BOOLEAN      NOT NULL,
    courier_fee       BIGINT       NULL,
    delivery          VARCHAR(12)  NULL,
    recipient         VARCHAR(200) NULL,
    phone             VARCHAR(16)  NULL,
    postcode          VARCHAR(8)   NULL,
    line1             VARCHAR(800) NULL,
    line2             VARCHAR(800) NULL,
    courier           VARCHAR(200) NULL,
    tracking_number   VARCHAR(32)  NULL,
    handover_code     CHAR(6)      NULL,
    failed_handovers  INT          NOT NULL DEFAULT 0,
    reminded_at       DATETIME(6)  NULL,
    dispute_reason    TEXT         NULL,
    to_seller         BIGINT       NULL,
    to_buyer          BIGINT       NULL,
    ended_at          DATETIME(6)  NULL,
    version           BIGINT       NOT NULL DEFAULT 0,
    created_at        DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_sales_auction (auction_id),
    KEY ix_sales_buyer (buyer_id, id),
    KEY ix_sales_seller (seller_id, id),
    KEY ix_sales_state (state, state_since),
    CONSTRAINT fk_sales_auction FOREIGN KEY (auction_id) REFERENCES auctions (id),
    CONSTRAINT fk_sales_seller FOREIGN KEY (seller_id) REFERENCES users (id),
    CONSTRAINT fk_sales_buyer FOREIGN KEY (buyer_id) REFERENCES users (id),
    CONSTRAINT ck_sales_money CHECK (price > 0 AND fee_paid >= 0 AND escrow >= 0 AND escrow <= price + fee_paid),
    CONSTRAINT ck_sales_state CHECK (state IN ('awaiting_details', 'awaiting_shipment', 'shipped', 'ready_for_pickup', 'received', 'settled', 'disputed', 'cancelled', 'refunded')),
    CONSTRAINT ck_sales_delivery CHECK (delivery IS NULL OR delivery IN ('pickup', 'courier'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Each step of a sale, in order: its timeline.
CREATE TABLE sale_events (
    id         BIGINT      NOT NULL AUTO_INCREMENT,
    sale_id    BIGINT      NOT NULL,
    event      VARCHAR(24) NOT NULL,
    actor_id   BIGINT      NULL,
    at         DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_sale_events_sale (sale_id, id),
    CONSTRAINT fk_sale_events_sale FOREIGN KEY (sale_id) REFERENCES sales (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- After settlement each side rates the other once.
CREATE TABLE sale_ratings (
    sale_id    BIGINT       NOT NULL,
    rater_id   BIGINT       NOT NULL,
    ratee_id   BIGINT       NOT NULL,
    stars      SMALLINT     NOT NULL,
    comment    VARCHAR(1200) NULL,
    created_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (sale_id, rater_id),
    KEY ix_sale_ratings_ratee (ratee_id, created_at),
    CONSTRAINT fk_sale_ratings_sale FOREIGN KEY (sale_id) REFERENCES sales (id) ON DELETE CASCADE,
    CONSTRAINT fk_sale_ratings_rater FOREIGN KEY (rater_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_sale_ratings_ratee FOREIGN KEY (ratee_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT ck_sale_ratings_stars CHECK (stars BETWEEN 1 AND 5)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- A dispute's photos belong to its sale (and are kept from the sweep).
ALTER TABLE photos ADD COLUMN sale_id BIGINT NULL;

-- Escrow in (the winner's points, the courier fee) and back out to the
-- buyer are ledger lines of their own.
ALTER TABLE ledger_entries DROP CONSTRAINT ck_ledger_kind;
ALTER TABLE ledger_entries ADD CONSTRAINT ck_ledger_kind
    CHECK (kind IN ('charge', 'withdraw', 'hold', 'release', 'payment', 'sale', 'adjust_credit', 'adjust_debit', 'payout_return', 'escrow', 'refund'));
