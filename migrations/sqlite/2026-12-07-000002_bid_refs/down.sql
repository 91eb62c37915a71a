DROP INDEX uq_bids_client_ref;
ALTER TABLE bids DROP COLUMN client_request;
ALTER TABLE bids DROP COLUMN client_ref;
