-- Accounts, roles and refresh-token families (SQLite twin of the MySQL
-- migration: same tables, columns and constraints).
CREATE TABLE users (
    id            INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    email         TEXT      NOT NULL CHECK (length(email) <= 254),
    nickname      TEXT      NOT NULL CHECK (length(nickname) <= 20),
    nickname_key  TEXT      NOT NULL,
    name          TEXT      NOT NULL CHECK (length(name) <= 50),
    phone         TEXT      NULL,
    address       TEXT      NULL,
    province      TEXT      NULL,
    bank_account  TEXT      NULL,
    account_type  TEXT      NOT NULL DEFAULT 'member' CHECK (account_type IN ('member', 'cafe', 'recycler')),
    password_hash TEXT      NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX uq_users_email ON users (email);
CREATE UNIQUE INDEX uq_users_nickname_key ON users (nickname_key);

CREATE TABLE user_roles (
    user_id    BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT      NOT NULL CHECK (role IN ('admin', 'operator')),
    granted_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE refresh_tokens (
    id         INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    user_id    BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id  TEXT      NOT NULL,
    token_hash TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    rotated_at TIMESTAMP NULL,
    revoked_at TIMESTAMP NULL
);
CREATE UNIQUE INDEX uq_refresh_tokens_token_hash ON refresh_tokens (token_hash);
CREATE INDEX ix_refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX ix_refresh_tokens_user ON refresh_tokens (user_id);
