DROP INDEX ix_idempotency_keys_created ON idempotency_keys;
DROP INDEX ix_refresh_tokens_expires ON refresh_tokens;
