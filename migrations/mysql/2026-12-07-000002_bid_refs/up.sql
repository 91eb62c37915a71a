-- A WebSocket frame's `ref` is an idempotency key per bidder and auction:
-- it is stored with the bid it placed (in the bid's own transaction), with
-- the request it stood for, so a frame re-sent after a lost answer gets the
-- first answer again and never a second bid. Kept 24 hours (the daily purge
-- clears older ones).
ALTER TABLE bids
    ADD COLUMN client_ref VARCHAR(80) NULL,
    ADD COLUMN client_request VARCHAR(64) NULL,
    ADD UNIQUE KEY uq_bids_client_ref (auction_id, bidder_id, client_ref);
