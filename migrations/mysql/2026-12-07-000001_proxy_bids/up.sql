-- The leading bidder's maximum when they bid by proxy: the bid engine bids
-- for them up to it. Private to its owner (never listed or sent to a room);
-- cleared when another bidder takes the lead or the proxy runs out of points.
ALTER TABLE auctions ADD COLUMN leader_max BIGINT NULL;
