//! Daily series: one value per calendar day, no gaps.

use chrono::{Days, NaiveDate, NaiveTime};

/// Kilograms per day over consecutive days starting at `start`.
#[derive(Debug, Clone, PartialEq)]
pub struct DailySeries {
    start: NaiveDate,
    values: Vec<f64>,
}

impl DailySeries {
    /// A series of `values` for the days from `start` on.
    pub fn new(start: NaiveDate, values: Vec<f64>) -> Self {
        Self { start, values }
    }

    /// Sums `amounts` (day, kg) into one value per day from `first` to
    /// `last` inclusive (missing days are 0; amounts outside are ignored),
    /// then drops the empty days before the first amount: history starts
    /// when the first pickup was posted, not at the window's edge.
    pub fn from_amounts(
        first: NaiveDate,
        last: NaiveDate,
        amounts: impl IntoIterator<Item = (NaiveDate, f64)>,
    ) -> Self {
        let len = usize::try_from((last - first).num_days() + 1).unwrap_or(0);
        let mut values = vec![0.0; len];
        for (day, kg) in amounts {
            let Ok(i) = usize::try_from((day - first).num_days()) else {
                continue;
            };
            if let Some(v) = values.get_mut(i) {
                *v += kg;
            }
        }
        let lead = values.iter().take_while(|v| **v == 0.0).count();
        let start = first
            .checked_add_days(Days::new(lead as u64))
            .unwrap_or(first);
        values.drain(..lead);
        Self { start, values }
    }

    /// First day.
    pub fn start(&self) -> NaiveDate {
        self.start
    }

    /// Last day (`start - 1` when empty).
    pub fn end(&self) -> NaiveDate {
        let offset = self.values.len() as i64 - 1;
        self.start + chrono::Duration::days(offset)
    }

    /// Days.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// No days.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Kilograms per day.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Midnight UTC of each day, in seconds (Prophet's `ds`).
    pub fn timestamps(&self) -> Vec<i64> {
        let midnight = self.start.and_time(NaiveTime::MIN).and_utc().timestamp();
        (0..self.values.len() as i64)
            .map(|i| midnight + i * 86_400)
            .collect()
    }

    /// The series without its last `n` days, and those days' values.
    pub fn split_last(&self, n: usize) -> (DailySeries, &[f64]) {
        let cut = self.values.len().saturating_sub(n);
        (
            DailySeries::new(self.start, self.values[..cut].to_vec()),
            &self.values[cut..],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn amounts_are_summed_per_day_gaps_are_zero_and_leading_empty_days_dropped() {
        let series = DailySeries::from_amounts(
            day("2026-01-01"),
            day("2026-01-06"),
            [
                (day("2026-01-03"), 1.5),
                (day("2026-01-03"), 2.0),
                (day("2026-01-05"), 4.0),
                (day("2025-12-31"), 100.0), // before the window
                (day("2026-01-07"), 100.0), // after it
            ],
        );
        assert_eq!(series.start(), day("2026-01-03"));
        assert_eq!(series.end(), day("2026-01-06"));
        assert_eq!(series.values(), &[3.5, 0.0, 4.0, 0.0]);
    }

    #[test]
    fn no_amounts_is_an_empty_series() {
        let series = DailySeries::from_amounts(day("2026-01-01"), day("2026-01-31"), []);
        assert!(series.is_empty());
    }

    #[test]
    fn timestamps_are_utc_midnights() {
        let series = DailySeries::new(day("2024-01-01"), vec![1.0, 2.0]);
        assert_eq!(series.timestamps(), vec![1_704_067_200, 1_704_153_600]);
    }

    #[test]
    fn split_last_holds_out_the_tail() {
        let series = DailySeries::new(day("2026-01-01"), vec![1.0, 2.0, 3.0]);
        let (train, held) = series.split_last(2);
        assert_eq!(train.values(), &[1.0]);
        assert_eq!(held, &[2.0, 3.0]);
        assert_eq!(train.end(), day("2026-01-01"));
    }
}
