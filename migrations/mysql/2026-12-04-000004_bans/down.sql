ALTER TABLE users DROP COLUMN ban_reason, DROP COLUMN banned_until, DROP COLUMN banned_at;
