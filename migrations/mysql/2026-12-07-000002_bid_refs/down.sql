ALTER TABLE bids DROP INDEX ix_bids_client_ref, DROP COLUMN client_request, DROP COLUMN client_ref;
