//! Days and months in the platform's time zone.

use std::fmt;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::FieldError;

/// A calendar month `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    /// Year.
    pub year: i32,
    /// 1–12.
    pub month: u32,
}

impl Month {
    /// Parses `YYYY-MM` (years 2000–2100).
    ///
    /// ```
    /// # use sitga_core::Month;
    /// assert_eq!(Month::parse("2026-11").unwrap(), Month { year: 2026, month: 11 });
    /// assert!(Month::parse("2026-13").is_none());
    /// assert!(Month::parse("26-1").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        let (y, m) = text.trim().split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let year: i32 = y.parse().ok()?;
        let month: u32 = m.parse().ok()?;
        ((2000..=2100).contains(&year) && (1..=12).contains(&month)).then_some(Self { year, month })
    }

    /// The month after this one.
    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Its first day.
    pub fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The platform's time zone: what "today", "this month" and a day of a
/// series mean. Instants stay UTC everywhere; only the cutting into days
/// and months goes through here, so a pickup at 01:00 KST on the 1st counts
/// in that month, not the one before.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use sitga_core::{Calendar, Month};
///
/// let seoul = Calendar::default();
/// // 15:01 UTC on 30 November is 00:01 KST on 1 December.
/// let at = Utc.with_ymd_and_hms(2026, 11, 30, 15, 1, 0).unwrap();
/// assert_eq!(seoul.month_of(at), Month { year: 2026, month: 12 });
/// assert_eq!(Calendar::parse("UTC").unwrap().month_of(at), Month { year: 2026, month: 11 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    zone: Tz,
}

/// The platform's default zone: it is Korean.
pub const DEFAULT_TIMEZONE: &str = "Asia/Seoul";

impl Default for Calendar {
    fn default() -> Self {
        Self {
            zone: chrono_tz::Asia::Seoul,
        }
    }
}

impl Calendar {
    /// Parses an IANA zone name (`Asia/Seoul`, `UTC`).
    pub fn parse(name: &str) -> Result<Self, FieldError> {
        name.trim()
            .parse::<Tz>()
            .map(|zone| Self { zone })
            .map_err(|_| {
                FieldError::new("timezone", "must be an IANA time zone such as Asia/Seoul")
            })
    }

    /// The zone's IANA name.
    pub fn name(self) -> &'static str {
        self.zone.name()
    }

    /// The local date of an instant.
    pub fn date_of(self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.zone).date_naive()
    }

    /// The local month of an instant.
    pub fn month_of(self, at: DateTime<Utc>) -> Month {
        let date = self.date_of(at);
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// The first instant of a local date (midnight, or the first instant
    /// after a daylight-saving gap that swallows midnight).
    pub fn day_start(self, date: NaiveDate) -> DateTime<Utc> {
        let midnight = date.and_time(NaiveTime::MIN);
        (0..=2)
            .find_map(|hours| {
                self.zone
                    .from_local_datetime(&(midnight + chrono::Duration::hours(hours)))
                    .earliest()
            })
            .map_or_else(|| midnight.and_utc(), |local| local.with_timezone(&Utc))
    }

    /// The local day holding `at`, as a half-open UTC range.
    pub fn day_range(self, at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        self.days_range(self.date_of(at), self.date_of(at))
    }

    /// Local days `first ..= last`, as a half-open UTC range.
    pub fn days_range(self, first: NaiveDate, last: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
        let after = last.checked_add_days(Days::new(1)).unwrap_or(last);
        (self.day_start(first), self.day_start(after))
    }

    /// A local month, as a half-open UTC range.
    pub fn month_range(self, month: Month) -> (DateTime<Utc>, DateTime<Utc>) {
        let first = month.first_day().unwrap_or(NaiveDate::MIN);
        let next = month.next().first_day().unwrap_or(NaiveDate::MAX);
        (self.day_start(first), self.day_start(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn korean_days_and_months_begin_at_local_midnight() {
        let seoul = Calendar::default();
        assert_eq!(seoul.name(), "Asia/Seoul");
        // 23:59 KST on 30 November is 14:59 UTC; 00:01 KST on 1 December is
        // 15:01 UTC on 30 November.
        let before = utc(2026, 11, 30, 14, 59);
        let after = utc(2026, 11, 30, 15, 1);
        assert_eq!(
            seoul.month_of(before),
            Month {
                year: 2026,
                month: 11
            }
        );
        assert_eq!(
            seoul.month_of(after),
            Month {
                year: 2026,
                month: 12
            }
        );
        let (from, to) = seoul.month_range(Month {
            year: 2026,
            month: 12,
        });
        assert_eq!(
            (from, to),
            (utc(2026, 11, 30, 15, 0), utc(2026, 12, 31, 15, 0))
        );
        assert!(from <= after && before < from);
        let (day, next) = seoul.day_range(after);
        assert_eq!(
            (day, next),
            (utc(2026, 11, 30, 15, 0), utc(2026, 12, 1, 15, 0))
        );
        // New year: 00:01 KST on 1 January 2027.
        assert_eq!(
            seoul.month_of(utc(2026, 12, 31, 15, 1)),
            Month {
                year: 2027,
                month: 1
            }
        );
    }

    #[test]
    fn other_zones_and_daylight_saving() {
        let utc_cal = Calendar::parse("UTC").unwrap();
        assert_eq!(
            utc_cal.month_range(Month {
                year: 2026,
                month: 2
            }),
            (utc(2026, 2, 1, 0, 0), utc(2026, 3, 1, 0, 0))
        );
        // São Paulo skipped midnight on 4 November 2018 (00:00 → 01:00).
        let sp = Calendar::parse("America/Sao_Paulo").unwrap();
        let start = sp.day_start(NaiveDate::from_ymd_opt(2018, 11, 4).unwrap());
        assert_eq!(start, utc(2018, 11, 4, 3, 0));
        assert!(Calendar::parse("Mars/Olympus").is_err());
        assert_eq!(
            Month {
                year: 2026,
                month: 3
            }
            .to_string(),
            "2026-03"
        );
    }
}
