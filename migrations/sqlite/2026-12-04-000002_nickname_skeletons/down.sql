ALTER TABLE users DROP COLUMN nickname_key_version;
