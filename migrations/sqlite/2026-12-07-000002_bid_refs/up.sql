-- A WebSocket frame's `ref` is an idempotency key per bidder and auction:
-- it is stored with the bid it placed (in the bid's own transaction), with
-- the request it stood for, so a frame re-sent after a lost answer (marked
-- `resend`) gets the first answer again and never a second bid. Kept 24
-- hours (the daily purge clears older ones). Not unique: only re-sent
-- frames are looked up, and a client reusing a ref for a new bid must not
-- fail the batch its bid is in (a lookup takes the earliest).
ALTER TABLE bids ADD COLUMN client_ref TEXT NULL;
ALTER TABLE bids ADD COLUMN client_request TEXT NULL;
CREATE INDEX ix_bids_client_ref ON bids (auction_id, client_ref);
