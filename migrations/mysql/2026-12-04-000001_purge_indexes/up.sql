-- The daily purge deletes by age; without these it would scan both tables.
CREATE INDEX ix_refresh_tokens_expires ON refresh_tokens (expires_at);
CREATE INDEX ix_idempotency_keys_created ON idempotency_keys (created_at);
