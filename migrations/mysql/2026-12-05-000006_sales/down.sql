ALTER TABLE ledger_entries DROP CONSTRAINT ck_ledger_kind;
ALTER TABLE ledger_entries ADD CONSTRAINT ck_ledger_kind
    CHECK (kind IN ('charge', 'withdraw', 'hold', 'release', 'payment', 'sale', 'adjust_credit', 'adjust_debit', 'payout_return'));
ALTER TABLE photos DROP COLUMN sale_id;
DROP TABLE sale_ratings;
DROP TABLE sale_events;
DROP TABLE sales;
