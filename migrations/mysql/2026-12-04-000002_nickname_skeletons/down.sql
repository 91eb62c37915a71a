ALTER TABLE users
    DROP COLUMN nickname_key_version,
    MODIFY nickname_key VARCHAR(80) NOT NULL;
