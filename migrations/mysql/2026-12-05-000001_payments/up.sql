-- Money in and out: a charge is recorded (pending) before the payment
-- provider is asked, so the daily cap counts it while it is decided; a
-- payout request takes the points out of the wallet until an operator pays
-- or rejects it (then they return). No foreign keys: money records outlive
-- the accounts they name.
CREATE TABLE charges (
    id           BIGINT       NOT NULL AUTO_INCREMENT,
    user_id      BIGINT       NOT NULL,
    amount       BIGINT       NOT NULL,
    provider     VARCHAR(40)  NOT NULL,
    provider_ref VARCHAR(200) NULL,
    status       VARCHAR(16)  NOT NULL,
    created_at   DATETIME(6)  NOT NULL,
    decided_at   DATETIME(6)  NULL,
    PRIMARY KEY (id),
    KEY ix_charges_user_day (user_id, created_at),
    CONSTRAINT ck_charges_amount CHECK (amount > 0),
    CONSTRAINT ck_charges_status CHECK (status IN ('pending', 'approved', 'declined'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE payouts (
    id           BIGINT       NOT NULL AUTO_INCREMENT,
    user_id      BIGINT       NOT NULL,
    amount       BIGINT       NOT NULL,
    bank_account VARCHAR(100) NOT NULL,
    status       VARCHAR(16)  NOT NULL,
    requested_at DATETIME(6)  NOT NULL,
    decided_at   DATETIME(6)  NULL,
    decided_by   BIGINT       NULL,
    note         VARCHAR(500) NULL,
    PRIMARY KEY (id),
    KEY ix_payouts_user (user_id, id),
    KEY ix_payouts_status (status, id),
    CONSTRAINT ck_payouts_amount CHECK (amount > 0),
    CONSTRAINT ck_payouts_status CHECK (status IN ('requested', 'paid', 'rejected'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- A rejected payout's points come back as a ledger line of their own.
ALTER TABLE ledger_entries DROP CONSTRAINT ck_ledger_kind;
ALTER TABLE ledger_entries ADD CONSTRAINT ck_ledger_kind
    CHECK (kind IN ('charge', 'withdraw', 'hold', 'release', 'payment', 'sale', 'adjust_credit', 'adjust_debit', 'payout_return'));
