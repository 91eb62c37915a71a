DROP TABLE chain_samples;
DROP TABLE chain_donations;
