DROP INDEX ix_bids_client_ref;
ALTER TABLE bids DROP COLUMN client_request;
ALTER TABLE bids DROP COLUMN client_ref;
