DROP TABLE payouts;
DROP TABLE charges;
