-- Every admin or operator action and every money movement that is not a
-- bid hold, append-only: the triggers refuse any UPDATE or DELETE, whoever
-- sends it. No foreign keys: a row outlives what it names.
CREATE TABLE audit_log (
    id                 INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    at                 TIMESTAMP NOT NULL,
    actor_id           BIGINT    NULL,
    action             TEXT      NOT NULL,
    subject_user_id    BIGINT    NULL,
    subject_auction_id BIGINT    NULL,
    amount             BIGINT    NULL,
    reason             TEXT      NULL
);
CREATE INDEX ix_audit_actor ON audit_log (actor_id, id);
CREATE INDEX ix_audit_subject ON audit_log (subject_user_id, id);
CREATE INDEX ix_audit_action ON audit_log (action, id);
CREATE INDEX ix_audit_at ON audit_log (at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- An admin's point adjustment is a ledger line of its own. SQLite cannot
-- change a CHECK in place: the table is rebuilt with the same rows.
CREATE TABLE ledger_entries_new (
    id            INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    user_id       BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          TEXT      NOT NULL CHECK (kind IN ('charge', 'withdraw', 'hold', 'release', 'payment', 'sale', 'adjust_credit', 'adjust_debit')),
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
