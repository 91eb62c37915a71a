//! Forecasting: one Prophet fit + 7-day predict in sitga against Python
//! prophet on the same series, in the same run.

use std::time::Instant;

use serde_json::Value;

use crate::median;

/// `sitga-bench forecast`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Timed runs on each side (medians are compared).
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// The series (`{"start", "kg": [...]}`).
    #[arg(long, default_value = "crates/forecasting/tests/fixtures/series.json")]
    series: std::path::PathBuf,
    /// The command that runs scripts/prophet_reference.py.
    #[arg(long, default_value = "scripts/prophet-reference.sh")]
    python: String,
}

/// Runs it.
pub fn run(args: &Args) -> Value {
    forecast(args.runs.max(1), &args.series, &args.python)
}

fn forecast(runs: usize, series_path: &std::path::Path, python: &str) -> Value {
    use sitga_forecasting::{DailySeries, Forecaster, Horizon};

    let raw: Value = serde_json::from_slice(&std::fs::read(series_path).expect("read the series"))
        .expect("series JSON");
    let start = raw["start"].as_str().expect("start").parse().expect("date");
    let kg: Vec<f64> = raw["kg"]
        .as_array()
        .expect("kg")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    let days = kg.len();
    let series = DailySeries::new(start, kg);

    let forecaster = Forecaster::new();
    let began = Instant::now();
    forecaster
        .fit_predict(&series, Horizon::WEEK.days())
        .expect("first fit");
    let first = began.elapsed().as_secs_f64() * 1e3;
    let ours: Vec<f64> = (0..runs)
        .map(|_| {
            let began = Instant::now();
            forecaster
                .fit_predict(&series, Horizon::WEEK.days())
                .expect("fit");
            began.elapsed().as_secs_f64() * 1e3
        })
        .collect();

    let out = std::env::temp_dir().join(format!("sitga-bench-prophet-{}.json", std::process::id()));
    let status = std::process::Command::new(python)
        .arg("--series")
        .arg(series_path)
        .arg("--out")
        .arg(&out)
        .arg("--repeat")
        .arg((runs + 1).to_string())
        .status()
        .expect("run the Python prophet script");
    assert!(status.success(), "{python} failed: {status}");
    let reference: Value =
        serde_json::from_slice(&std::fs::read(&out).expect("read its output")).expect("JSON");
    let _ = std::fs::remove_file(&out);
    let mut theirs: Vec<f64> = reference["fit_predict_seconds"]
        .as_array()
        .expect("timings")
        .iter()
        .map(|v| v.as_f64().expect("seconds") * 1e3)
        .collect();
    // Its first run loads the Stan model, like our first fit compiles it.
    let their_first = theirs.remove(0);

    println!(
        "\nForecast: one fit + 7-day predict of a {days}-day series (weekly seasonality, 80 % interval, 1,000 simulations), {runs} timed runs each\n"
    );
    println!("| implementation | first run (ms) | median (ms) | min (ms) |");
    println!("|---|---|---|---|");
    let min = |xs: &[f64]| xs.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "| sitga (augurs Prophet, WASM Stan) | {first:.1} | {:.1} | {:.1} |",
        median(ours.clone()),
        min(&ours)
    );
    println!(
        "| Python prophet {} (cmdstanpy) | {their_first:.1} | {:.1} | {:.1} |",
        reference["prophet_version"].as_str().unwrap_or("?"),
        median(theirs.clone()),
        min(&theirs)
    );
    let (ours, theirs) = (median(ours), median(theirs));
    println!(
        "\nsitga / Python median time: {:.3} (Python takes {:.0}x as long)",
        ours / theirs,
        theirs / ours
    );
    serde_json::json!({
        "scenario": "forecast",
        "deployment": { "backend": "in process", "instances": 1 },
        "days": days,
        "runs": runs,
        "rows": [
            { "implementation": "sitga", "first_ms": first, "median_ms": ours },
            { "implementation": "python prophet", "first_ms": their_first, "median_ms": theirs },
        ],
        "sitga_vs_python": ours / theirs,
        "invariants_ok": true,
    })
}
