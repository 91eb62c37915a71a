//! Money in and out of the platform: the daily cap on charges, and payout
//! requests (`requested → paid | rejected`, decided by an operator).
//!
//! ```
//! use sitga_auction::{ChargeCap, Krw, PayoutDecision, PayoutStatus};
//!
//! let cap = ChargeCap::new(Krw::new(2_000_000));
//! assert_eq!(cap.check(Krw::new(1_500_000), Krw::new(500_000)), Ok(()));
//! assert_eq!(
//!     cap.check(Krw::new(1_500_000), Krw::new(600_000)).unwrap_err().remaining,
//!     Krw::new(500_000)
//! );
//! assert_eq!(PayoutStatus::Requested.decide(PayoutDecision::Paid), Ok(PayoutStatus::Paid));
//! assert!(PayoutStatus::Paid.decide(PayoutDecision::Rejected).is_err());
//! ```

use sitga_core::Krw;

/// How much one user may charge per UTC day (pending and approved charges
/// count; declined ones do not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargeCap {
    per_day: Krw,
}

/// The default cap: 2,000,000 KRW a day, the common limit of Korean
/// simple-payment wallets.
pub const DEFAULT_DAILY_CHARGE_CAP: Krw = Krw::new(2_000_000);

impl Default for ChargeCap {
    fn default() -> Self {
        Self::new(DEFAULT_DAILY_CHARGE_CAP)
    }
}

/// A charge that would pass the day's cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("at most {per_day} won can be charged per day; {remaining} won is left today")]
pub struct OverChargeCap {
    /// The cap.
    pub per_day: Krw,
    /// What may still be charged today.
    pub remaining: Krw,
}

impl ChargeCap {
    /// A cap of `per_day` won.
    pub const fn new(per_day: Krw) -> Self {
        Self { per_day }
    }

    /// A cap of `won` (for configuration read as a plain number).
    pub const fn of_won(won: i64) -> Self {
        Self::new(Krw::new(won))
    }

    /// The cap in won.
    pub fn per_day(self) -> Krw {
        self.per_day
    }

    /// Whether `amount` may be charged by a user who has charged
    /// `charged_today` already.
    pub fn check(self, charged_today: Krw, amount: Krw) -> Result<(), OverChargeCap> {
        let remaining = Krw::new(
            self.per_day
                .get()
                .saturating_sub(charged_today.get())
                .max(0),
        );
        if amount > remaining {
            return Err(OverChargeCap {
                per_day: self.per_day,
                remaining,
            });
        }
        Ok(())
    }
}

/// Where a payout request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutStatus {
    /// Points left the wallet; an operator has yet to send the money.
    Requested,
    /// An operator sent the money (final).
    Paid,
    /// An operator refused it; the points went back to the wallet (final).
    Rejected,
}

/// An operator's decision on a requested payout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutDecision {
    /// The bank transfer was made.
    Paid,
    /// Refused: the points go back.
    Rejected,
}

/// A decision on a payout that is no longer waiting for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the payout is already {}", .0.code())]
pub struct PayoutAlreadyDecided(pub PayoutStatus);

impl PayoutStatus {
    /// Every status.
    pub const ALL: [Self; 3] = [Self::Requested, Self::Paid, Self::Rejected];

    /// Stored and wire code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Paid => "paid",
            Self::Rejected => "rejected",
        }
    }

    /// The status of a code.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The status after `decision`: only a requested payout can be decided,
    /// once.
    pub fn decide(self, decision: PayoutDecision) -> Result<Self, PayoutAlreadyDecided> {
        match (self, decision) {
            (Self::Requested, PayoutDecision::Paid) => Ok(Self::Paid),
            (Self::Requested, PayoutDecision::Rejected) => Ok(Self::Rejected),
            (decided, _) => Err(PayoutAlreadyDecided(decided)),
        }
    }

    /// Whether the points return to the wallet on entering this status.
    pub fn returns_points(self) -> bool {
        self == Self::Rejected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_counts_what_was_charged_today() {
        let cap = ChargeCap::new(Krw::new(1_000));
        assert_eq!(cap.check(Krw::ZERO, Krw::new(1_000)), Ok(()));
        assert_eq!(cap.check(Krw::new(999), Krw::new(1)), Ok(()));
        let over = cap.check(Krw::new(999), Krw::new(2)).unwrap_err();
        assert_eq!(
            (over.per_day, over.remaining),
            (Krw::new(1_000), Krw::new(1))
        );
        // Charged past the cap (a cap lowered since): nothing is left, never
        // a negative remainder.
        let over = cap.check(Krw::new(5_000), Krw::new(1)).unwrap_err();
        assert_eq!(over.remaining, Krw::ZERO);
    }

    #[test]
    fn a_payout_is_decided_once() {
        use PayoutDecision as D;
        use PayoutStatus as S;
        assert_eq!(S::Requested.decide(D::Paid), Ok(S::Paid));
        assert_eq!(S::Requested.decide(D::Rejected), Ok(S::Rejected));
        for decided in [S::Paid, S::Rejected] {
            for decision in [D::Paid, D::Rejected] {
                assert_eq!(decided.decide(decision), Err(PayoutAlreadyDecided(decided)));
            }
        }
        assert!(S::Rejected.returns_points());
        assert!(!S::Paid.returns_points() && !S::Requested.returns_points());
    }

    #[test]
    fn codes_round_trip() {
        for s in PayoutStatus::ALL {
            assert_eq!(PayoutStatus::parse(s.code()), Some(s));
        }
        assert_eq!(PayoutStatus::parse("pending"), None);
    }
}
