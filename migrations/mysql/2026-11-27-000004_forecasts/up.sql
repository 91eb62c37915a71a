-- Forecast retraining jobs, the runs they store and each run's daily points.
-- A run covers one series: kind (supply | demand) and a province, or the
-- whole country when province IS NULL.
CREATE TABLE forecast_jobs (
    id             VARCHAR(40)   NOT NULL,
    trigger_kind   VARCHAR(8)    NOT NULL,
    status         VARCHAR(8)    NOT NULL DEFAULT 'queued',
    requested_by   BIGINT        NULL,
    window_days    INT           NOT NULL,
    horizon_days   INT           NOT NULL,
    series_fitted  INT           NOT NULL DEFAULT 0,
    series_skipped INT           NOT NULL DEFAULT 0,
    error          VARCHAR(1000) NULL,
    created_at     DATETIME(6)   NOT NULL,
    started_at     DATETIME(6)   NULL,
    finished_at    DATETIME(6)   NULL,
    PRIMARY KEY (id),
    KEY ix_forecast_jobs_created (created_at),
    CONSTRAINT fk_forecast_jobs_user FOREIGN KEY (requested_by) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_forecast_jobs_trigger CHECK (trigger_kind IN ('manual', 'daily')),
    CONSTRAINT ck_forecast_jobs_status CHECK (status IN ('queued', 'running', 'done', 'failed'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE forecast_runs (
    id              BIGINT      NOT NULL AUTO_INCREMENT,
    job_id          VARCHAR(40) NULL,
    kind            VARCHAR(8)  NOT NULL,
    province        VARCHAR(20) NULL,
    model           VARCHAR(20) NOT NULL,
    trained_at      DATETIME(6) NOT NULL,
    window_start    DATE        NOT NULL,
    window_end      DATE        NOT NULL,
    window_days     INT         NOT NULL,
    horizon_days    INT         NOT NULL,
    parameters      TEXT        NOT NULL,
    backtest_days   INT         NULL,
    backtest_mae_kg DOUBLE      NULL,
    backtest_wape   DOUBLE      NULL,
    PRIMARY KEY (id),
    KEY ix_forecast_runs_series (kind, province, id),
    KEY ix_forecast_runs_trained (trained_at),
    CONSTRAINT fk_forecast_runs_job FOREIGN KEY (job_id) REFERENCES forecast_jobs (id) ON DELETE SET NULL,
    CONSTRAINT ck_forecast_runs_kind CHECK (kind IN ('supply', 'demand'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE forecast_points (
    run_id   BIGINT NOT NULL,
    day      DATE   NOT NULL,
    yhat_kg  DOUBLE NOT NULL,
    lower_kg DOUBLE NOT NULL,
    upper_kg DOUBLE NOT NULL,
    PRIMARY KEY (run_id, day),
    CONSTRAINT fk_forecast_points_run FOREIGN KEY (run_id) REFERENCES forecast_runs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
