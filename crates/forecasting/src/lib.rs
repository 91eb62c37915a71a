//! Seven-day supply and demand forecasts for sitga: Prophet from `augurs`,
//! with the Stan model compiled to WebAssembly (run by wasmtime in-process,
//! nothing downloaded).
//!
//! The crate knows nothing about the database or the web: it turns dated
//! amounts into a contiguous daily series ([`DailySeries`]), fits Prophet
//! with weekly seasonality, and returns the forecast points plus a backtest
//! over the last [`BACKTEST_DAYS`] days. Fitting is CPU-bound (tens to
//! hundreds of milliseconds): callers run it off their async threads.

#![warn(missing_docs)]

mod series;

use std::sync::OnceLock;

use augurs::prophet::optimizer::OptimizeOpts;
use augurs::prophet::wasmstan::WasmstanOptimizer;
use augurs::prophet::{
    IncludeHistory, IntervalWidth, Prophet, ProphetOptions, SeasonalityOption, TrainingData,
};
use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

pub use series::DailySeries;

/// The model name stored with every run.
pub const MODEL: &str = "prophet";
/// Fewer days of history than this and no forecast is made.
pub const MIN_HISTORY_DAYS: usize = 14;
/// The backtest holds out this many final days.
pub const BACKTEST_DAYS: usize = 14;
/// Share of the predictive distribution between `lower` and `upper`.
pub const INTERVAL_WIDTH: f64 = 0.8;

/// Days ahead to forecast: 1 … 28 (default 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Horizon(u32);

impl Horizon {
    /// The longest horizon.
    pub const MAX: u32 = 28;
    /// The default week.
    pub const WEEK: Self = Self(7);

    /// Days.
    pub fn days(self) -> u32 {
        self.0
    }
}

impl Default for Horizon {
    fn default() -> Self {
        Self::WEEK
    }
}

impl TryFrom<u32> for Horizon {
    type Error = ForecastError;

    fn try_from(days: u32) -> Result<Self, Self::Error> {
        if (1..=Self::MAX).contains(&days) {
            Ok(Self(days))
        } else {
            Err(ForecastError::Invalid(format!(
                "horizon must be 1 to {} days",
                Self::MAX
            )))
        }
    }
}

impl From<Horizon> for u32 {
    fn from(h: Horizon) -> Self {
        h.0
    }
}

/// Days of history a run trains on: 14 … 730 (default 90).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Window(u32);

impl Window {
    /// The longest window (two years).
    pub const MAX: u32 = 730;
    /// The default: 90 days.
    pub const DEFAULT: Self = Self(90);

    /// Days.
    pub fn days(self) -> u32 {
        self.0
    }
}

impl Default for Window {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TryFrom<u32> for Window {
    type Error = ForecastError;

    fn try_from(days: u32) -> Result<Self, Self::Error> {
        if (MIN_HISTORY_DAYS as u32..=Self::MAX).contains(&days) {
            Ok(Self(days))
        } else {
            Err(ForecastError::Invalid(format!(
                "window must be {MIN_HISTORY_DAYS} to {} days",
                Self::MAX
            )))
        }
    }
}

impl From<Window> for u32 {
    fn from(w: Window) -> Self {
        w.0
    }
}

/// Why no forecast was made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ForecastError {
    /// The series is too short.
    #[error("{days} days of history; at least {needed} are needed")]
    NotEnoughHistory {
        /// Days the series has.
        days: usize,
        /// Days needed.
        needed: usize,
    },
    /// A parameter is out of range.
    #[error("{0}")]
    Invalid(String),
    /// Prophet failed (data it cannot fit, optimizer failure).
    #[error("the model failed: {0}")]
    Model(String),
}

/// One forecast day, in kg (never negative: amounts of coffee grounds
/// cannot be).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ForecastPoint {
    /// The day.
    pub date: NaiveDate,
    /// Point forecast.
    pub yhat: f64,
    /// Lower bound of the [`INTERVAL_WIDTH`] interval.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

/// How the model did on the last [`BACKTEST_DAYS`] days when trained
/// without them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Backtest {
    /// Days held out.
    pub days: u32,
    /// Mean absolute error, kg per day.
    pub mae_kg: f64,
    /// Absolute error summed over the days divided by the actual total
    /// (WAPE); `None` when nothing happened in those days.
    pub wape: Option<f64>,
}

/// A fitted forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// [`MODEL`].
    pub model: String,
    /// First day trained on.
    pub window_start: NaiveDate,
    /// Last day trained on.
    pub window_end: NaiveDate,
    /// Days ahead.
    pub horizon: Horizon,
    /// One point per day after `window_end`.
    pub points: Vec<ForecastPoint>,
    /// Held-out accuracy, when the series is long enough to spare the days
    /// (at least `MIN_HISTORY_DAYS + BACKTEST_DAYS`).
    pub backtest: Option<Backtest>,
}

/// The model options a run was fitted with, stored beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    /// Trend shape.
    pub growth: String,
    /// Weekly seasonality on.
    pub weekly_seasonality: bool,
    /// Yearly seasonality on.
    pub yearly_seasonality: bool,
    /// Daily (intra-day) seasonality on.
    pub daily_seasonality: bool,
    /// Potential trend changepoints.
    pub n_changepoints: u32,
    /// Flexibility of the trend.
    pub changepoint_prior_scale: f64,
    /// Strength of the seasonality.
    pub seasonality_prior_scale: f64,
    /// Width of the `lower`..`upper` interval.
    pub interval_width: f64,
    /// Simulations drawn for the interval.
    pub uncertainty_samples: u32,
    /// How the parameters are estimated.
    pub estimation: String,
}

/// Fits Prophet models. The WebAssembly optimizer is compiled from the
/// embedded Stan model on the first fit (it takes a while), so one
/// `Forecaster` is meant to be built once and shared: see [`Self::shared`].
#[derive(Debug, Default)]
pub struct Forecaster {
    optimizer: OnceLock<WasmstanOptimizer>,
}

impl Forecaster {
    /// A forecaster; the Stan model is compiled on its first fit.
    pub fn new() -> Self {
        Self::default()
    }

    /// A process-wide forecaster.
    pub fn shared() -> &'static Forecaster {
        static SHARED: OnceLock<Forecaster> = OnceLock::new();
        SHARED.get_or_init(Forecaster::new)
    }

    /// The options every fit uses: weekly seasonality only (the series are
    /// daily and at most two years long), Prophet's defaults otherwise.
    pub fn options() -> ProphetOptions {
        let mut opts = ProphetOptions {
            yearly_seasonality: SeasonalityOption::Manual(false),
            weekly_seasonality: SeasonalityOption::Manual(true),
            daily_seasonality: SeasonalityOption::Manual(false),
            ..ProphetOptions::default()
        };
        if let Ok(width) = IntervalWidth::try_new(INTERVAL_WIDTH) {
            opts.interval_width = width;
        }
        opts
    }

    /// [`Self::options`] in stored form.
    pub fn parameters() -> Parameters {
        let opts = Self::options();
        let on = |o: SeasonalityOption| !matches!(o, SeasonalityOption::Manual(false));
        Parameters {
            growth: format!("{:?}", opts.growth).to_lowercase(),
            weekly_seasonality: on(opts.weekly_seasonality),
            yearly_seasonality: on(opts.yearly_seasonality),
            daily_seasonality: on(opts.daily_seasonality),
            n_changepoints: opts.n_changepoints,
            changepoint_prior_scale: *opts.changepoint_prior_scale,
            seasonality_prior_scale: *opts.seasonality_prior_scale,
            interval_width: *opts.interval_width,
            uncertainty_samples: opts.uncertainty_samples,
            estimation: format!("{:?}", opts.estimation).to_lowercase(),
        }
    }

    /// Fits `series` and forecasts `horizon` days past its end, with a
    /// backtest when the series is long enough.
    pub fn forecast(
        &self,
        series: &DailySeries,
        horizon: Horizon,
    ) -> Result<Forecast, ForecastError> {
        let days = series.len();
        if days < MIN_HISTORY_DAYS {
            return Err(ForecastError::NotEnoughHistory {
                days,
                needed: MIN_HISTORY_DAYS,
            });
        }
        let points = self.fit_predict(series, horizon.days())?;
        let backtest = if days >= MIN_HISTORY_DAYS + BACKTEST_DAYS {
            let (train, held_out) = series.split_last(BACKTEST_DAYS);
            let predicted = self.fit_predict(&train, BACKTEST_DAYS as u32)?;
            Some(backtest(&predicted, held_out))
        } else {
            None
        };
        Ok(Forecast {
            model: MODEL.to_owned(),
            window_start: series.start(),
            window_end: series.end(),
            horizon,
            points,
            backtest,
        })
    }

    /// One Prophet fit of `series` and its forecast `horizon` days ahead
    /// (what [`Self::forecast`] does twice, with the backtest).
    pub fn fit_predict(
        &self,
        series: &DailySeries,
        horizon: u32,
    ) -> Result<Vec<ForecastPoint>, ForecastError> {
        let model_error = |e: augurs::prophet::Error| ForecastError::Model(e.to_string());
        let data = TrainingData::new(series.timestamps(), series.values().to_vec())
            .map_err(model_error)?;
        let optimizer = self.optimizer.get_or_init(WasmstanOptimizer::new).clone();
        let mut prophet = Prophet::new(Self::options(), optimizer);
        prophet
            .fit(data, OptimizeOpts::default())
            .map_err(model_error)?;
        let horizon = std::num::NonZeroU32::new(horizon)
            .ok_or_else(|| ForecastError::Invalid("horizon must be at least one day".into()))?;
        let future = prophet
            .make_future_dataframe(horizon, IncludeHistory::No)
            .map_err(model_error)?;
        let predictions = prophet.predict(future).map_err(model_error)?;
        let yhat = predictions.yhat;
        let lower = yhat.lower.unwrap_or_else(|| yhat.point.clone());
        let upper = yhat.upper.unwrap_or_else(|| yhat.point.clone());
        let mut out = Vec::with_capacity(yhat.point.len());
        let mut date = series.end();
        for ((y, lo), hi) in yhat.point.iter().zip(&lower).zip(&upper) {
            date = date
                .checked_add_days(Days::new(1))
                .ok_or_else(|| ForecastError::Invalid("date out of range".into()))?;
            out.push(ForecastPoint {
                date,
                yhat: y.max(0.0),
                lower: lo.max(0.0),
                upper: hi.max(0.0),
            });
        }
        Ok(out)
    }
}

/// Scores `predicted` against the actual values of the same days.
pub fn backtest(predicted: &[ForecastPoint], actual: &[f64]) -> Backtest {
    let n = predicted.len().min(actual.len());
    let abs_error: f64 = predicted
        .iter()
        .zip(actual)
        .map(|(p, a)| (p.yhat - a).abs())
        .sum();
    let total: f64 = actual.iter().take(n).sum();
    Backtest {
        days: n as u32,
        mae_kg: if n == 0 { 0.0 } else { abs_error / n as f64 },
        wape: (total > 0.0).then(|| abs_error / total),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn horizon_and_window_are_bounded() {
        assert!(Horizon::try_from(0).is_err());
        assert_eq!(Horizon::try_from(28).unwrap().days(), 28);
        assert!(Horizon::try_from(29).is_err());
        assert_eq!(Horizon::default().days(), 7);
        assert!(Window::try_from(13).is_err());
        assert_eq!(Window::try_from(14).unwrap().days(), 14);
        assert!(Window::try_from(731).is_err());
        assert!(serde_json::from_str::<Horizon>("40").is_err());
    }

    #[test]
    fn backtest_scores_absolute_error_and_wape() {
        let points: Vec<ForecastPoint> = [10.0, 20.0]
            .iter()
            .map(|&y| ForecastPoint {
                date: day("2026-01-01"),
                yhat: y,
                lower: y,
                upper: y,
            })
            .collect();
        let score = backtest(&points, &[12.0, 18.0]);
        assert_eq!(score.days, 2);
        assert!((score.mae_kg - 2.0).abs() < 1e-12);
        assert!((score.wape.unwrap() - 4.0 / 30.0).abs() < 1e-12);
        assert_eq!(backtest(&points, &[0.0, 0.0]).wape, None);
    }

    #[test]
    fn too_short_a_series_is_refused_before_fitting() {
        let series = DailySeries::new(day("2026-01-01"), vec![1.0; 13]);
        // Refused before the optimizer is compiled, so this test stays fast.
        let err = Forecaster::new()
            .forecast(&series, Horizon::WEEK)
            .unwrap_err();
        assert_eq!(
            err,
            ForecastError::NotEnoughHistory {
                days: 13,
                needed: 14
            }
        );
    }

    /// A 10-week series with a trend and a strong weekend dip: the forecast
    /// continues both.
    #[test]
    fn forecast_follows_trend_and_weekly_pattern() {
        let start = day("2026-01-05"); // a Monday
        let values: Vec<f64> = (0..70)
            .map(|i| {
                let weekday = i % 7;
                let base = 50.0 + 0.2 * f64::from(i);
                if weekday >= 5 { base - 20.0 } else { base }
            })
            .collect();
        let series = DailySeries::new(start, values);
        let forecast = Forecaster::shared()
            .forecast(&series, Horizon::WEEK)
            .unwrap();
        assert_eq!(forecast.points.len(), 7);
        assert_eq!(forecast.window_end, day("2026-03-15"));
        assert_eq!(forecast.points[0].date, day("2026-03-16")); // Monday
        let monday = forecast.points[0].yhat;
        let saturday = forecast.points[5].yhat;
        assert!((monday - 64.0).abs() < 2.0, "monday {monday}");
        assert!(
            monday - saturday > 15.0,
            "weekend dip {monday} vs {saturday}"
        );
        for p in &forecast.points {
            assert!(p.lower <= p.yhat && p.yhat <= p.upper, "{p:?}");
        }
        let bt = forecast.backtest.unwrap();
        assert_eq!(bt.days, 14);
        assert!(bt.mae_kg < 2.0, "backtest {bt:?}");
    }
}
