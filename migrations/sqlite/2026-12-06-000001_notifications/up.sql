-- SQLite twin of the MySQL migration of the same name.
CREATE TABLE notifications (
    id         INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    user_id    BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT      NOT NULL,
    dedupe_key TEXT      NOT NULL,
    auction_id BIGINT    NULL,
    sale_id    BIGINT    NULL,
    pickup_id  BIGINT    NULL,
    text_ko    TEXT      NOT NULL,
    text_en    TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    read_at    TIMESTAMP NULL
);
CREATE UNIQUE INDEX ux_notifications_event ON notifications (user_id, dedupe_key);
CREATE INDEX ix_notifications_user ON notifications (user_id, id);

CREATE TABLE notification_settings (
    user_id BIGINT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind    TEXT     NOT NULL,
    enabled SMALLINT NOT NULL,
    PRIMARY KEY (user_id, kind)
);

ALTER TABLE auctions ADD COLUMN reminded_minutes SMALLINT NOT NULL DEFAULT 0;
