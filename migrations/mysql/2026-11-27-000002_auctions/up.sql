-- Fish auctions, bids, point wallets and their ledger, room chat, and
-- idempotency keys for bid requests. Money is BIGINT KRW.
CREATE TABLE wallets (
    user_id    BIGINT      NOT NULL,
    balance    BIGINT      NOT NULL DEFAULT 0,
    held       BIGINT      NOT NULL DEFAULT 0,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id),
    CONSTRAINT fk_wallets_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT ck_wallets_amounts CHECK (held >= 0 AND balance >= held)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE ledger_entries (
    id            BIGINT      NOT NULL AUTO_INCREMENT,
    user_id       BIGINT      NOT NULL,
    kind          VARCHAR(16) NOT NULL,
    amount        BIGINT      NOT NULL,
    balance_after BIGINT      NOT NULL,
    held_after    BIGINT      NOT NULL,
    auction_id    BIGINT      NULL,
    created_at    DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_ledger_user (user_id, id),
    CONSTRAINT fk_ledger_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT ck_ledger_kind CHECK (kind IN ('charge', 'withdraw', 'hold', 'release', 'payment', 'sale'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE auctions (
    id                 BIGINT       NOT NULL AUTO_INCREMENT,
    seller_id          BIGINT       NOT NULL,
    title              VARCHAR(100) NOT NULL,
    description        TEXT         NOT NULL,
    species            VARCHAR(100) NULL,
    photo_url          VARCHAR(500) NULL,
    start_price        BIGINT       NOT NULL,
    min_increment      BIGINT       NOT NULL,
    reserve_price      BIGINT       NULL,
    current_price      BIGINT       NULL,
    leader_id          BIGINT       NULL,
    bid_count          BIGINT       NOT NULL DEFAULT 0,
    view_count         BIGINT       NOT NULL DEFAULT 0,
    status             VARCHAR(16)  NOT NULL DEFAULT 'open',
    ends_at            DATETIME(6)  NOT NULL,
    hard_end_at        DATETIME(6)  NOT NULL,
    soft_close_seconds BIGINT       NOT NULL,
    version            BIGINT       NOT NULL DEFAULT 0,
    created_at         DATETIME(6)  NOT NULL,
    updated_at         DATETIME(6)  NOT NULL,
    closed_at          DATETIME(6)  NULL,
    PRIMARY KEY (id),
    KEY ix_auctions_status_ends (status, ends_at),
    KEY ix_auctions_seller (seller_id, id),
    KEY ix_auctions_leader (leader_id, status),
    CONSTRAINT fk_auctions_seller FOREIGN KEY (seller_id) REFERENCES users (id),
    CONSTRAINT fk_auctions_leader FOREIGN KEY (leader_id) REFERENCES users (id),
    CONSTRAINT ck_auctions_status CHECK (status IN ('open', 'sold', 'unsold', 'cancelled')),
    CONSTRAINT ck_auctions_prices CHECK (start_price > 0 AND min_increment > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE bids (
    id         BIGINT      NOT NULL AUTO_INCREMENT,
    auction_id BIGINT      NOT NULL,
    seq        BIGINT      NOT NULL,
    bidder_id  BIGINT      NOT NULL,
    amount     BIGINT      NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_bids_auction_seq (auction_id, seq),
    KEY ix_bids_bidder (bidder_id),
    CONSTRAINT fk_bids_auction FOREIGN KEY (auction_id) REFERENCES auctions (id) ON DELETE CASCADE,
    CONSTRAINT fk_bids_bidder FOREIGN KEY (bidder_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE chat_messages (
    id         BIGINT      NOT NULL AUTO_INCREMENT,
    auction_id BIGINT      NOT NULL,
    user_id    BIGINT      NULL,
    nickname   VARCHAR(20) NULL,
    kind       VARCHAR(16) NOT NULL,
    body       TEXT        NOT NULL,
    amount     BIGINT      NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_chat_auction (auction_id, id),
    CONSTRAINT fk_chat_auction FOREIGN KEY (auction_id) REFERENCES auctions (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE idempotency_keys (
    user_id         BIGINT       NOT NULL,
    idem_key        VARCHAR(100) NOT NULL,
    request_hash    CHAR(64)     NOT NULL,
    response_status INT          NULL,
    response_body   TEXT         NULL,
    created_at      DATETIME(6)  NOT NULL,
    PRIMARY KEY (user_id, idem_key),
    CONSTRAINT fk_idem_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
