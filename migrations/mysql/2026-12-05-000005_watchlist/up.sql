-- Auctions a user follows: each listed once, newest first.
CREATE TABLE watchlist (
    user_id    BIGINT      NOT NULL,
    auction_id BIGINT      NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, auction_id),
    KEY ix_watchlist_user (user_id, created_at),
    KEY ix_watchlist_auction (auction_id),
    CONSTRAINT fk_watchlist_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_watchlist_auction FOREIGN KEY (auction_id) REFERENCES auctions (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
