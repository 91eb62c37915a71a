-- A banned account cannot log in or refresh; its sessions are ended when
-- the ban is made. No end time: until an admin lifts it.
ALTER TABLE users
    ADD COLUMN banned_at    DATETIME(6)  NULL,
    ADD COLUMN banned_until DATETIME(6)  NULL,
    ADD COLUMN ban_reason   VARCHAR(500) NULL;
