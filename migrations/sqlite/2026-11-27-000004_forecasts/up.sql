-- SQLite twin of the MySQL migration of the same name.
CREATE TABLE forecast_jobs (
    id             TEXT      NOT NULL PRIMARY KEY,
    trigger_kind   TEXT      NOT NULL CHECK (trigger_kind IN ('manual', 'daily')),
    status         TEXT      NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    requested_by   BIGINT    NULL REFERENCES users (id) ON DELETE SET NULL,
    window_days    INTEGER   NOT NULL,
    horizon_days   INTEGER   NOT NULL,
    series_fitted  INTEGER   NOT NULL DEFAULT 0,
    series_skipped INTEGER   NOT NULL DEFAULT 0,
    error          TEXT      NULL,
    created_at     TIMESTAMP NOT NULL,
    started_at     TIMESTAMP NULL,
    finished_at    TIMESTAMP NULL
);
CREATE INDEX ix_forecast_jobs_created ON forecast_jobs (created_at);

CREATE TABLE forecast_runs (
    id              INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    job_id          TEXT      NULL REFERENCES forecast_jobs (id) ON DELETE SET NULL,
    kind            TEXT      NOT NULL CHECK (kind IN ('supply', 'demand')),
    province        TEXT      NULL,
    model           TEXT      NOT NULL,
    trained_at      TIMESTAMP NOT NULL,
    window_start    DATE      NOT NULL,
    window_end      DATE      NOT NULL,
    window_days     INTEGER   NOT NULL,
    horizon_days    INTEGER   NOT NULL,
    parameters      TEXT      NOT NULL,
    backtest_days   INTEGER   NULL,
    backtest_mae_kg DOUBLE    NULL,
    backtest_wape   DOUBLE    NULL
);
CREATE INDEX ix_forecast_runs_series ON forecast_runs (kind, province, id);
CREATE INDEX ix_forecast_runs_trained ON forecast_runs (trained_at);

CREATE TABLE forecast_points (
    run_id   BIGINT NOT NULL REFERENCES forecast_runs (id) ON DELETE CASCADE,
    day      DATE   NOT NULL,
    yhat_kg  DOUBLE NOT NULL,
    lower_kg DOUBLE NOT NULL,
    upper_kg DOUBLE NOT NULL,
    PRIMARY KEY (run_id, day)
);
