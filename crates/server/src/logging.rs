//! Log set-up.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// actix-web-prom warns on every request to a route whose pattern is a
/// regex (the Swagger UI's `/docs/{filename:.*}`) that it cannot turn into
/// a label; it then uses the pattern itself, which is what we want. Quiet it
/// unless the filter names the crate.
const QUIET: &str = "actix_web_prom=error";

/// The filter with [`QUIET`] added unless `filter` already says something
/// about that crate.
fn with_quiet_defaults(filter: &str) -> String {
    if filter.contains("actix_web_prom") {
        filter.to_owned()
    } else if filter.trim().is_empty() {
        format!("info,{QUIET}")
    } else {
        format!("{filter},{QUIET}")
    }
}

/// Installs the global subscriber; a bad filter falls back to `info` with a
/// warning instead of failing start-up.
pub fn init(filter: &str, format: LogFormat) {
    let (filter, bad) = match EnvFilter::try_new(with_quiet_defaults(filter)) {
        Ok(f) => (f, None),
        Err(e) => (EnvFilter::new(with_quiet_defaults("info")), Some(e)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if let Err(e) = result {
        eprintln!("sitga: logging already initialised: {e}");
    }
    if let Some(e) = bad {
        tracing::warn!(error = %e, "SITGA_LOG is not a valid filter; using `info`");
    }
}

#[cfg(test)]
mod tests {
    use super::with_quiet_defaults;

    #[test]
    fn the_metrics_label_warning_is_quiet_unless_asked_for() {
        assert_eq!(with_quiet_defaults("info"), "info,actix_web_prom=error");
        assert_eq!(with_quiet_defaults(""), "info,actix_web_prom=error");
        assert_eq!(
            with_quiet_defaults("debug,actix_web_prom=warn"),
            "debug,actix_web_prom=warn"
        );
    }
}
