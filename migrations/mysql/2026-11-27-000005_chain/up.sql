-- On-chain donation records: an outbox row per completed donation (written
-- in the transaction that completes it; a worker sends it and retries with
-- backoff), and the chain monitor's samples.
CREATE TABLE chain_donations (
    pickup_id       BIGINT        NOT NULL,
    donor_ref       CHAR(66)      NOT NULL,
    grams           BIGINT        NOT NULL,
    status          VARCHAR(10)   NOT NULL DEFAULT 'pending',
    attempts        INT           NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6)   NOT NULL,
    lease_until     DATETIME(6)   NULL,
    tx_hash         CHAR(66)      NULL,
    block_number    BIGINT        NULL,
    last_error      VARCHAR(500)  NULL,
    created_at      DATETIME(6)   NOT NULL,
    updated_at      DATETIME(6)   NOT NULL,
    PRIMARY KEY (pickup_id),
    KEY ix_chain_donations_due (status, next_attempt_at),
    CONSTRAINT fk_chain_donations_pickup FOREIGN KEY (pickup_id) REFERENCES pickups (id),
    CONSTRAINT ck_chain_donations_status CHECK (status IN ('pending', 'confirmed', 'failed'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE chain_samples (
    id             BIGINT      NOT NULL AUTO_INCREMENT,
    sampled_at     DATETIME(6) NOT NULL,
    contract       CHAR(42)    NOT NULL,
    latest_block   BIGINT      NOT NULL,
    scanned_to     BIGINT      NOT NULL,
    donation_count BIGINT      NOT NULL,
    transactions   BIGINT      NOT NULL,
    PRIMARY KEY (id),
    KEY ix_chain_samples_contract (contract, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
