-- SQLite twin of the MySQL migration of the same name.
CREATE TABLE wallets (
    user_id    BIGINT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    balance    BIGINT    NOT NULL DEFAULT 0,
    held       BIGINT    NOT NULL DEFAULT 0,
    updated_at TIMESTAMP NOT NULL,
    CHECK (held >= 0 AND balance >= held)
);

CREATE TABLE ledger_entries (
    id            INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    user_id       BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          TEXT      NOT NULL CHECK (kind IN ('charge', 'withdraw', 'hold', 'release', 'payment', 'sale')),
    amount        BIGINT    NOT NULL,
    balance_after BIGINT    NOT NULL,
    held_after    BIGINT    NOT NULL,
    auction_id    BIGINT    NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX ix_ledger_user ON ledger_entries (user_id, id);

CREATE TABLE auctions (
    id                 INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    seller_id          BIGINT    NOT NULL REFERENCES users (id),
    title              TEXT      NOT NULL,
    description        TEXT      NOT NULL,
    species            TEXT      NULL,
    photo_url          TEXT      NULL,
    start_price        BIGINT    NOT NULL CHECK (start_price > 0),
    min_increment      BIGINT    NOT NULL CHECK (min_increment > 0),
    reserve_price      BIGINT    NULL,
    current_price      BIGINT    NULL,
    leader_id          BIGINT    NULL REFERENCES users (id),
    bid_count          BIGINT    NOT NULL DEFAULT 0,
    view_count         BIGINT    NOT NULL DEFAULT 0,
    status             TEXT      NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'sold', 'unsold', 'cancelled')),
    ends_at            TIMESTAMP NOT NULL,
    hard_end_at        TIMESTAMP NOT NULL,
    soft_close_seconds BIGINT    NOT NULL,
    version            BIGINT    NOT NULL DEFAULT 0,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    closed_at          TIMESTAMP NULL
);
CREATE INDEX ix_auctions_status_ends ON auctions (status, ends_at);
CREATE INDEX ix_auctions_seller ON auctions (seller_id, id);
CREATE INDEX ix_auctions_leader ON auctions (leader_id, status);

CREATE TABLE bids (
    id         INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    auction_id BIGINT    NOT NULL REFERENCES auctions (id) ON DELETE CASCADE,
    seq        BIGINT    NOT NULL,
    bidder_id  BIGINT    NOT NULL REFERENCES users (id),
    amount     BIGINT    NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX uq_bids_auction_seq ON bids (auction_id, seq);
CREATE INDEX ix_bids_bidder ON bids (bidder_id);

CREATE TABLE chat_messages (
    id         INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    auction_id BIGINT    NOT NULL REFERENCES auctions (id) ON DELETE CASCADE,
    user_id    BIGINT    NULL,
    nickname   TEXT      NULL,
    kind       TEXT      NOT NULL,
    body       TEXT      NOT NULL,
    amount     BIGINT    NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_chat_auction ON chat_messages (auction_id, id);

CREATE TABLE idempotency_keys (
    user_id         BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idem_key        TEXT      NOT NULL,
    request_hash    TEXT      NOT NULL,
    response_status INTEGER   NULL,
    response_body   TEXT      NULL,
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);
