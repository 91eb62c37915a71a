-- Accounts, roles and refresh-token families.
-- utf8mb4_bin: full Unicode (Hangul, emoji) and byte-exact comparisons, the
-- same as SQLite; case-insensitive uniqueness is done with normalised keys.
CREATE TABLE users (
    id            BIGINT       NOT NULL AUTO_INCREMENT,
    email         VARCHAR(254) NOT NULL,
    nickname      VARCHAR(20)  NOT NULL,
    nickname_key  VARCHAR(80)  NOT NULL,
    name          VARCHAR(50)  NOT NULL,
    phone         VARCHAR(20)  NULL,
    address       VARCHAR(200) NULL,
    province      VARCHAR(20)  NULL,
    bank_account  VARCHAR(100) NULL,
    account_type  VARCHAR(16)  NOT NULL DEFAULT 'member',
    password_hash VARCHAR(255) NOT NULL,
    created_at    DATETIME(6)  NOT NULL,
    updated_at    DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_users_email (email),
    UNIQUE KEY uq_users_nickname_key (nickname_key),
    CONSTRAINT ck_users_account_type CHECK (account_type IN ('member', 'cafe', 'recycler'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE user_roles (
    user_id    BIGINT      NOT NULL,
    role       VARCHAR(16) NOT NULL,
    granted_at DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, role),
    CONSTRAINT fk_user_roles_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT ck_user_roles_role CHECK (role IN ('admin', 'operator'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE refresh_tokens (
    id         BIGINT      NOT NULL AUTO_INCREMENT,
    user_id    BIGINT      NOT NULL,
    family_id  CHAR(36)    NOT NULL,
    token_hash CHAR(64)    NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    rotated_at DATETIME(6) NULL,
    revoked_at DATETIME(6) NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_refresh_tokens_token_hash (token_hash),
    KEY ix_refresh_tokens_family (family_id),
    KEY ix_refresh_tokens_user (user_id),
    CONSTRAINT fk_refresh_tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
