-- Cafes and recyclers are businesses: their registration number (checked
-- digit by digit before it is stored) waits for an operator's decision.
-- One number belongs to one account, so one person cannot be verified on
-- both sides of a pickup under one registration.
CREATE TABLE businesses (
    user_id      BIGINT       NOT NULL,
    number       CHAR(10)     NOT NULL,
    name         VARCHAR(100) NOT NULL,
    status       VARCHAR(16)  NOT NULL,
    reason       VARCHAR(500) NULL,
    submitted_at DATETIME(6)  NOT NULL,
    decided_at   DATETIME(6)  NULL,
    decided_by   BIGINT       NULL,
    PRIMARY KEY (user_id),
    UNIQUE KEY ux_businesses_number (number),
    KEY ix_businesses_status (status, submitted_at),
    CONSTRAINT fk_businesses_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT ck_businesses_status CHECK (status IN ('pending', 'verified', 'rejected'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- A completed pickup counts (rankings, monthly figures, badges, the chain)
-- from counted_at on; until then it is recorded and nothing more. A weight
-- over 1.5x the posted amount waits for the cafe's weight_confirmed_at.
-- Pickups completed before this migration were counted already (they are
-- on chain and in the rankings), so they keep counting.
ALTER TABLE pickups
    ADD COLUMN weight_confirmed_at DATETIME(6) NULL,
    ADD COLUMN counted_at DATETIME(6) NULL;
UPDATE pickups SET counted_at = completed_at WHERE status = 'completed';
CREATE INDEX ix_pickups_counted ON pickups (counted_at);
