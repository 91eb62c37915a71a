-- Cafes and recyclers are businesses: their registration number (checked
-- digit by digit before it is stored) waits for an operator's decision.
-- One number belongs to one account, so one person cannot be verified on
-- both sides of a pickup under one registration.
CREATE TABLE businesses (
    user_id      BIGINT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    number       TEXT      NOT NULL,
    name         TEXT      NOT NULL,
    status       TEXT      NOT NULL CHECK (status IN ('pending', 'verified', 'rejected')),
    reason       TEXT      NULL,
    submitted_at TIMESTAMP NOT NULL,
    decided_at   TIMESTAMP NULL,
    decided_by   BIGINT    NULL
);
CREATE UNIQUE INDEX ux_businesses_number ON businesses (number);
CREATE INDEX ix_businesses_status ON businesses (status, submitted_at);

-- A completed pickup counts (rankings, monthly figures, badges, the chain)
-- from counted_at on; until then it is recorded and nothing more. A weight
-- over 1.5x the posted amount waits for the cafe's weight_confirmed_at.
-- Pickups completed before this migration were counted already (they are
-- on chain and in the rankings), so they keep counting.
ALTER TABLE pickups ADD COLUMN weight_confirmed_at TIMESTAMP NULL;
ALTER TABLE pickups ADD COLUMN counted_at TIMESTAMP NULL;
UPDATE pickups SET counted_at = completed_at WHERE status = 'completed';
CREATE INDEX ix_pickups_counted ON pickups (counted_at);
