DROP TABLE auction_lots;
