//! Ending-soon reminders: ten minutes and one minute before an auction's
//! effective end (which a soft close may move), each sent at most once.

use chrono::{DateTime, Duration, Utc};

/// How long before the end the reminders go out, earliest first.
pub const REMINDER_MINUTES: [i64; 2] = [10, 1];

/// The reminder due now for an auction that ends at `ends_at`, given the
/// smallest lead (in minutes) already sent (`None`: none yet). Only the
/// latest due is sent: an auction created with five minutes left gets the
/// ten-minute reminder (there are less than ten left), not both; one
/// already past its end gets none (it is closing).
pub fn reminder_due(ends_at: DateTime<Utc>, now: DateTime<Utc>, sent: Option<i64>) -> Option<i64> {
    if ends_at <= now {
        return None;
    }
    let due = REMINDER_MINUTES
        .into_iter()
        .filter(|m| ends_at - now <= Duration::minutes(*m))
        .min()?;
    match sent {
        Some(sent) if sent <= due => None,
        _ => Some(due),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reminder_once_and_only_the_latest() {
        let now = Utc::now();
        let at = |secs| now + Duration::seconds(secs);
        assert_eq!(reminder_due(at(11 * 60), now, None), None, "too early");
        assert_eq!(reminder_due(at(10 * 60), now, None), Some(10));
        assert_eq!(reminder_due(at(5 * 60), now, None), Some(10));
        assert_eq!(reminder_due(at(5 * 60), now, Some(10)), None, "sent");
        assert_eq!(reminder_due(at(60), now, Some(10)), Some(1));
        assert_eq!(reminder_due(at(30), now, None), Some(1), "skips to 1");
        assert_eq!(reminder_due(at(30), now, Some(1)), None);
        // A soft close moved the end from 30 s to 2 min after the 1-minute
        // reminder: nothing more.
        assert_eq!(reminder_due(at(120), now, Some(1)), None);
        assert_eq!(reminder_due(at(0), now, None), None, "closing");
    }
}
