-- What each user is told: stored once per user and event (dedupe_key names
-- the event, e.g. 'outbid:12:7'), read or not. The text is kept as it was
-- sent, Korean with English alongside.
CREATE TABLE notifications (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id    BIGINT       NOT NULL,
    kind       VARCHAR(32)  NOT NULL,
    dedupe_key VARCHAR(100) NOT NULL,
    auction_id BIGINT       NULL,
    sale_id    BIGINT       NULL,
    pickup_id  BIGINT       NULL,
    text_ko    VARCHAR(500) NOT NULL,
    text_en    VARCHAR(500) NOT NULL,
    created_at DATETIME(6)  NOT NULL,
    read_at    DATETIME(6)  NULL,
    UNIQUE KEY ux_notifications_event (user_id, dedupe_key),
    KEY ix_notifications_user (user_id, id),
    CONSTRAINT fk_notifications_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The kinds a user turned off (a kind without a row is on).
CREATE TABLE notification_settings (
    user_id BIGINT      NOT NULL,
    kind    VARCHAR(32) NOT NULL,
    enabled SMALLINT    NOT NULL,
    PRIMARY KEY (user_id, kind),
    CONSTRAINT fk_notification_settings_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Ending-soon reminders sent for an auction: 0 none, 10 the ten-minute
-- one, 1 the one-minute one. Set by a guarded UPDATE, so one instance sends
-- each; the auction's version is not bumped (bids are not affected).
ALTER TABLE auctions ADD COLUMN reminded_minutes SMALLINT NOT NULL DEFAULT 0;
