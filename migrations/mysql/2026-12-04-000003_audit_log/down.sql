ALTER TABLE ledger_entries DROP CONSTRAINT ck_ledger_kind;
ALTER TABLE ledger_entries ADD CONSTRAINT ck_ledger_kind
    CHECK (kind IN ('charge', 'withdraw', 'hold', 'release', 'payment', 'sale'));
DROP TRIGGER audit_log_no_delete;
DROP TRIGGER audit_log_no_update;
DROP TABLE audit_log;
