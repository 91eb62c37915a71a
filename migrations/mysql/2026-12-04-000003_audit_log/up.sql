-- Every admin or operator action and every money movement that is not a
-- bid hold, append-only: the triggers refuse any UPDATE or DELETE, whoever
-- sends it. No foreign keys: a row outlives what it names.
CREATE TABLE audit_log (
    id                 BIGINT       NOT NULL AUTO_INCREMENT,
    at                 DATETIME(6)  NOT NULL,
    actor_id           BIGINT       NULL,
    action             VARCHAR(40)  NOT NULL,
    subject_user_id    BIGINT       NULL,
    subject_auction_id BIGINT       NULL,
    amount             BIGINT       NULL,
    reason             VARCHAR(500) NULL,
    PRIMARY KEY (id),
    KEY ix_audit_actor (actor_id, id),
    KEY ix_audit_subject (subject_user_id, id),
    KEY ix_audit_action (action, id),
    KEY ix_audit_at (at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_log is append-only';
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_log is append-only';

-- An admin's point adjustment is a ledger line of its own.
ALTER TABLE ledger_entries DROP CONSTRAINT ck_ledger_kind;
ALTER TABLE ledger_entries ADD CONSTRAINT ck_ledger_kind
    CHECK (kind IN ('charge', 'withdraw', 'hold', 'release', 'payment', 'sale', 'adjust_credit', 'adjust_debit'));
