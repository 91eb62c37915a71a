//! Prometheus metrics: HTTP histograms from `actix-web-prom`, plus gauges
//! for the database pool read at scrape time.

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntGauge, Opts, Registry};
use sitga_persistence::DbPool;

/// Reads the pool's status whenever metrics are scraped.
struct PoolCollector {
    pool: DbPool,
    max_size: IntGauge,
    size: IntGauge,
    available: IntGauge,
    waiting: IntGauge,
}

fn gauge(name: &str, help: &str, backend: &str) -> Result<IntGauge, prometheus::Error> {
    IntGauge::with_opts(Opts::new(name, help).const_label("backend", backend))
}

impl PoolCollector {
    fn new(pool: DbPool) -> Result<Self, prometheus::Error> {
        let backend = pool.backend();
        Ok(Self {
            max_size: gauge(
                "sitga_db_pool_max_size",
                "Connections the pool may open",
                backend,
            )?,
            size: gauge("sitga_db_pool_size", "Connections open now", backend)?,
            available: gauge(
                "sitga_db_pool_available",
                "Idle connections in the pool",
                backend,
            )?,
            waiting: gauge(
                "sitga_db_pool_waiting",
                "Requests waiting for a connection",
                backend,
            )?,
            pool,
        })
    }

    fn gauges(&self) -> [&IntGauge; 4] {
        [&self.max_size, &self.size, &self.available, &self.waiting]
    }
}

impl Collector for PoolCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.gauges().into_iter().flat_map(|g| g.desc()).collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let status = self.pool.status();
        let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.max_size.set(as_i64(status.max_size));
        self.size.set(as_i64(status.size));
        self.available.set(as_i64(status.available));
        self.waiting.set(as_i64(status.waiting));
        self.gauges()
            .into_iter()
            .flat_map(|g| g.collect())
            .collect()
    }
}

/// The metrics middleware, which also serves `GET /metrics`.
pub fn build(pool: &DbPool) -> Result<PrometheusMetrics, String> {
    let registry = Registry::new();
    let collector = PoolCollector::new(pool.clone()).map_err(|e| e.to_string())?;
    registry
        .register(Box::new(collector))
        .map_err(|e| e.to_string())?;
    PrometheusMetricsBuilder::new("sitga")
        .registry(registry)
        .endpoint("/metrics")
        // Paths no route matched (scanners, typos) share one label: as
        // their own labels they grew the series without bound.
        .mask_unmatched_patterns("UNMATCHED")
        .build()
        .map_err(|e| e.to_string())
}
