-- Auctions a user follows: each listed once, newest first.
CREATE TABLE watchlist (
    user_id    BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auction_id BIGINT    NOT NULL REFERENCES auctions (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, auction_id)
);
CREATE INDEX ix_watchlist_user ON watchlist (user_id, created_at);
CREATE INDEX ix_watchlist_auction ON watchlist (auction_id);
