-- SQLite twin of the MySQL migration of the same name.
CREATE TABLE chain_donations (
    pickup_id       BIGINT    NOT NULL PRIMARY KEY REFERENCES pickups (id),
    donor_ref       TEXT      NOT NULL,
    grams           BIGINT    NOT NULL,
    status          TEXT      NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'failed')),
    attempts        INTEGER   NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until     TIMESTAMP NULL,
    tx_hash         TEXT      NULL,
    block_number    BIGINT    NULL,
    last_error      TEXT      NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX ix_chain_donations_due ON chain_donations (status, next_attempt_at);

CREATE TABLE chain_samples (
    id             INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    sampled_at     TIMESTAMP NOT NULL,
    contract       TEXT      NOT NULL,
    latest_block   BIGINT    NOT NULL,
    scanned_to     BIGINT    NOT NULL,
    donation_count BIGINT    NOT NULL,
    transactions   BIGINT    NOT NULL
);
CREATE INDEX ix_chain_samples_contract ON chain_samples (contract, id);
