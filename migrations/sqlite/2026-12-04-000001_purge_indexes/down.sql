DROP INDEX ix_idempotency_keys_created;
DROP INDEX ix_refresh_tokens_expires;
