-- Money in and out: a charge is recorded (pending) before the payment
-- provider is asked, so the daily cap counts it while it is decided; a
-- payout request takes the points out of the wallet until an operator pays
-- or rejects it (then they return). No foreign keys: money records outlive
-- the accounts they name.
CREATE TABLE charges (
    id           INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT    NOT NULL,
    amount       BIGINT    NOT NULL CHECK (amount > 0),
    provider     TEXT      NOT NULL,
    provider_ref TEXT      NULL,
    status       TEXT      NOT NULL CHECK (status IN ('pending', 'approved', 'declined')),
    created_at   TIMESTAMP NOT NULL,
    decided_at   TIMESTAMP NULL
);
CREATE INDEX ix_charges_user_day ON charges (user_id, created_at);

CREATE TABLE payouts (
    id           INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT    NOT NULL,
    amount       BIGINT    NOT NULL CHECK (amount > 0),
    bank_account TEXT      NOT NULL,
    status       TEXT      NOT NULL CHECK (status IN ('requested', 'paid', 'rejected')),
    requested_at TIMESTAMP NOT NULL,
    decided_at   TIMESTAMP NULL,
    decided_by   BIGINT    NULL,
    note         TEXT      NULL
);
CREATE INDEX ix_payouts_user ON payouts (user_id, id);
CREATE INDEX ix_payouts_status ON payouts (status, id);

-- A rejected payout's points come back as a ledger line of their own.
-- SQLite cannot change a CHECK in place: the table is rebuilt with the
-- same rows.
CREATE TABLE ledger_entries_new (
    id            INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    user_id       BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          TEXT      NOT NULL CHECK (kind IN ('charge', 'withdraw', 'hold', 'release', 'payment', 'sale', 'adjust_credit', 'adjust_debit', 'payout_return')),
    amount        BIGINT    NOT NULL,
    balance_after BIGINT    NOT NULL,
    held_after    BIGINT    NOT NULL,
    auction_id    BIGINT    NULL,
    created_at    TIMESTAMP NOT NULL
);
INSERT INTO ledger_entries_new (id, user_id, kind, amount, balance_after, held_after, auction_id, created_at)
    SELECT id, user_id, kind, amount, balance_after, held_after, auction_id, created_at FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_new RENAME TO ledger_entries;
CREATE INDEX ix_ledger_user ON ledger_entries (user_id, id);
