DROP TABLE forecast_points;
DROP TABLE forecast_runs;
DROP TABLE forecast_jobs;
