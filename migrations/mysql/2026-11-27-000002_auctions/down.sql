DROP TABLE idempotency_keys;
DROP TABLE chat_messages;
DROP TABLE bids;
DROP TABLE auctions;
DROP TABLE ledger_entries;
DROP TABLE wallets;
