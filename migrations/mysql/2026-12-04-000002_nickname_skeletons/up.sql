-- Nickname keys became Unicode confusable skeletons (longer than the
-- case-folded text); rows keyed by the old rule are re-keyed at start-up.
ALTER TABLE users
    MODIFY nickname_key VARCHAR(255) NOT NULL,
    ADD COLUMN nickname_key_version SMALLINT NOT NULL DEFAULT 1;
