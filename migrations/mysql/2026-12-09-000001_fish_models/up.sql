-- Species models installed by `sitga model install`: every instance serves
-- the newest row not rolled back (`retired_at` NULL), polling for it, so an
-- install or a rollback reaches all of them without a restart. Rows are
-- kept: a rollback retires the newest and the one before serves again.
CREATE TABLE fish_models (
    id           BIGINT       NOT NULL AUTO_INCREMENT,
    name         VARCHAR(64)  NOT NULL,
    version      INT          NOT NULL,
    digest       CHAR(64)     NOT NULL,
    manifest     MEDIUMTEXT   NOT NULL,
    weights      MEDIUMBLOB   NOT NULL,
    metrics      MEDIUMTEXT   NOT NULL,
    installed_by VARCHAR(120) NOT NULL,
    installed_at DATETIME(6)  NOT NULL,
    retired_at   DATETIME(6)  NULL,
    PRIMARY KEY (id),
    KEY ix_fish_models_serving (retired_at, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
