-- Species models installed by `sitga model install`: every instance serves
-- the newest row not rolled back (`retired_at` NULL), polling for it, so an
-- install or a rollback reaches all of them without a restart. Rows are
-- kept: a rollback retires the newest and the one before serves again.
CREATE TABLE fish_models (
    id           INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    name         TEXT      NOT NULL,
    version      INTEGER   NOT NULL,
    digest       TEXT      NOT NULL,
    manifest     TEXT      NOT NULL,
    weights      BLOB      NOT NULL,
    metrics      TEXT      NOT NULL,
    installed_by TEXT      NOT NULL,
    installed_at TIMESTAMP NOT NULL,
    retired_at   TIMESTAMP NULL
);
CREATE INDEX ix_fish_models_serving ON fish_models (retired_at, id);
