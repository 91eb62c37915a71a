-- A WebSocket frame's `ref` is an idempotency key per bidder and auction:
-- it is stored with the bid it placed (in the bid's own transaction), with
-- the request it stood for, so a frame re-sent after a lost answer gets the
-- first answer again and never a second bid. Kept 24 hours (the daily purge
-- clears older ones).
ALTER TABLE bids ADD COLUMN client_ref TEXT NULL;
ALTER TABLE bids ADD COLUMN client_request TEXT NULL;
CREATE UNIQUE INDEX uq_bids_client_ref ON bids (auction_id, bidder_id, client_ref);
