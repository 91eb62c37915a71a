-- A banned account cannot log in or refresh; its sessions are ended when
-- the ban is made. No end time: until an admin lifts it.
ALTER TABLE users ADD COLUMN banned_at TIMESTAMP NULL;
ALTER TABLE users ADD COLUMN banned_until TIMESTAMP NULL;
ALTER TABLE users ADD COLUMN ban_reason TEXT NULL;
