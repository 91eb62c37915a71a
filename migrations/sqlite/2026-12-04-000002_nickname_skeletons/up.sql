-- Nickname keys became Unicode confusable skeletons; rows keyed by the old
-- rule are re-keyed at start-up.
ALTER TABLE users ADD COLUMN nickname_key_version SMALLINT NOT NULL DEFAULT 1;
