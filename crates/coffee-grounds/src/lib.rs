//! Coffee-grounds pickup rules for sitga, with no web or database code:
//! amounts, who may post what, and the pickup lifecycle
//! `waiting → on_way → completed` (plus `cancelled`).
//!
//! ```
//! use sitga_coffee_grounds::{Actor, Action, Grams, PickupKind, PickupSnapshot, PickupStatus, UserId, decide};
//!
//! let offer = PickupSnapshot { kind: PickupKind::Supply, status: PickupStatus::Waiting, owner_id: UserId::new(1), collector_id: None };
//! let recycler = Actor { user_id: UserId::new(2), role: sitga_coffee_grounds::ActorRole::Recycler };
//! let next = decide(&offer, Action::Claim, recycler).unwrap();
//! assert_eq!(next.status, PickupStatus::OnWay);
//! assert_eq!(next.collector_id, Some(UserId::new(2)));
//! assert_eq!(Grams::from_kg(2.5).unwrap().get(), 2_500);
//! ```

#![warn(missing_docs)]

/// Smallest amount: 0.1 kg.
pub const MIN_GRAMS: i64 = 100;
/// Largest amount: 1,000 kg.
pub const MAX_GRAMS: i64 = 1_000_000;

/// An amount of coffee grounds in whole grams (0.1 … 1,000 kg, in steps of
/// 0.1 kg). Never a float once parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "i64", into = "i64"))]
pub struct Grams(i64);

pub use sitga_core::{FieldError, Month, UserId};

#[cfg(feature = "serde")]
sitga_core::serde_as_code!(PickupKind);
#[cfg(feature = "serde")]
sitga_core::serde_as_code!(PickupStatus);

/// A stored or received amount in grams: within 0.1 … 1,000 kg, in 0.1 kg
/// steps (what [`Grams::from_kg`] accepts).
impl TryFrom<i64> for Grams {
    type Error = FieldError;

    fn try_from(grams: i64) -> Result<Self, FieldError> {
        if !(MIN_GRAMS..=MAX_GRAMS).contains(&grams) || grams % 100 != 0 {
            return Err(FieldError::new(
                "amount_kg",
                "must be 0.1 to 1,000 kg in steps of 0.1 kg",
            ));
        }
        Ok(Self(grams))
    }
}

impl From<Grams> for i64 {
    fn from(grams: Grams) -> i64 {
        grams.0
    }
}

impl Grams {
    /// Parses kilograms as sent by clients (`2.5`): 0.1 … 1,000 kg with at
    /// most one decimal.
    ///
    /// ```
    /// # use sitga_coffee_grounds::Grams;
    /// assert_eq!(Grams::from_kg(0.1).unwrap().get(), 100);
    /// assert!(Grams::from_kg(0.05).is_err());
    /// assert!(Grams::from_kg(1.25).is_err());
    /// assert!(Grams::from_kg(1000.1).is_err());
    /// assert!(Grams::from_kg(f64::NAN).is_err());
    /// assert!(Grams::from_kg(9.2e15).is_err());
    /// assert!(Grams::from_kg(-9.2e18).is_err());
    /// ```
    pub fn from_kg(kg: f64) -> Result<Self, FieldError> {
        if !kg.is_finite() {
            return Err(FieldError::new(
                "amount_kg",
                "must be a number of kilograms",
            ));
        }
        let tenths = kg * 10.0;
        let rounded = tenths.round();
        if (tenths - rounded).abs() > 1e-6 {
            return Err(FieldError::new(
                "amount_kg",
                "must have at most one decimal (0.1 kg steps)",
            ));
        }
        // Range first, on the float: a huge amount must not reach the cast.
        let (min_tenths, max_tenths) = (MIN_GRAMS / 100, MAX_GRAMS / 100);
        if !(min_tenths as f64..=max_tenths as f64).contains(&rounded) {
            return Err(FieldError::new("amount_kg", "must be 0.1 to 1,000 kg"));
        }
        // Within 1 … 10,000 tenths, so the cast is exact.
        Ok(Self(rounded as i64 * 100))
    }

    /// Wraps a stored value.
    pub fn from_stored(grams: i64) -> Self {
        Self(grams)
    }

    /// Grams.
    pub fn get(self) -> i64 {
        self.0
    }

    /// Kilograms, for display.
    pub fn kg(self) -> f64 {
        self.0 as f64 / 1_000.0
    }
}

/// The two series: cafes offer (supply), recyclers ask (demand).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PickupKind {
    /// A cafe's offer of spent grounds.
    Supply,
    /// A recycler's request for grounds.
    Demand,
}

impl PickupKind {
    /// Both kinds.
    pub const ALL: [Self; 2] = [Self::Supply, Self::Demand];

    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Supply => "supply",
            Self::Demand => "demand",
        }
    }

    /// Parses a code.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// Where a pickup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PickupStatus {
    /// Posted, nobody on it yet.
    Waiting,
    /// A recycler claimed it and is on the way.
    OnWay,
    /// Collected (measured weight recorded).
    Completed,
    /// Withdrawn by its owner before anyone claimed it.
    Cancelled,
}

impl PickupStatus {
    /// Stored and API code (the original's spelling).
    pub fn code(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::OnWay => "on_way",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a code.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Every status.
    pub const ALL: [Self; 4] = [Self::Waiting, Self::OnWay, Self::Completed, Self::Cancelled];
}

/// What kind of account acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum ActorRole {
    /// A cafe.
    Cafe,
    /// A recycler.
    Recycler,
    /// Anyone else (auction members).
    Other,
}

/// Who acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Actor {
    /// User id.
    pub user_id: UserId,
    /// Account kind.
    pub role: ActorRole,
}

/// The kind of pickup an account may post, if any: cafes offer, recyclers
/// ask.
pub fn kind_for(role: ActorRole) -> Option<PickupKind> {
    match role {
        ActorRole::Cafe => Some(PickupKind::Supply),
        ActorRole::Recycler => Some(PickupKind::Demand),
        ActorRole::Other => None,
    }
}

/// What the rules need to know about a pickup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PickupSnapshot {
    /// Supply or demand.
    pub kind: PickupKind,
    /// Status.
    pub status: PickupStatus,
    /// Who posted it.
    pub owner_id: UserId,
    /// Who claimed it.
    pub collector_id: Option<UserId>,
}

/// A requested move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Action {
    /// The other side takes a waiting pickup: a recycler a cafe's offer
    /// ("I will collect it"), a cafe a recycler's request ("I will supply
    /// it").
    Claim,
    /// The recycler reports the grounds received, with their weight: the
    /// claimer of an offer, the poster of a request.
    Complete,
    /// The owner withdraws it while waiting.
    Cancel,
    /// The cafe confirms a measured weight far above the posted one.
    ConfirmWeight,
}

impl Action {
    fn past_tense(self) -> &'static str {
        match self {
            Self::Claim => "claimed",
            Self::Complete => "completed",
            Self::Cancel => "cancelled",
            Self::ConfirmWeight => "weight-confirmed",
        }
    }
}

/// A refused move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    /// This actor may not make this move (403).
    #[error("you may not do this to this pickup")]
    WrongActor,
    /// Not from the current status (409).
    #[error("a pickup that is {from} cannot be {action}")]
    IllegalTransition {
        /// Current status code.
        from: &'static str,
        /// The attempted action.
        action: &'static str,
    },
    /// The measured weight needs no confirmation, or has it already (409).
    #[error("this pickup's weight needs no confirmation")]
    NothingToConfirm,
}

/// The state after a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Moved {
    /// New status.
    pub status: PickupStatus,
    /// Collector after the move.
    pub collector_id: Option<UserId>,
}

fn illegal(from: PickupStatus, action: Action) -> MoveError {
    MoveError::IllegalTransition {
        from: from.code(),
        action: action.past_tense(),
    }
}

/// The two parties of a pickup, whichever posted it: the cafe gives the
/// grounds, the recycler receives them. `collector_id` is whoever claimed
/// the pickup, so it is the recycler of an offer and the cafe of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sides {
    /// The giving cafe (none yet on an unclaimed request).
    pub cafe: Option<UserId>,
    /// The receiving recycler (none yet on an unclaimed offer).
    pub recycler: Option<UserId>,
}

/// Who gives and who receives.
///
/// ```
/// # use sitga_coffee_grounds::{sides, PickupKind, PickupSnapshot, PickupStatus, UserId};
/// let request = PickupSnapshot { kind: PickupKind::Demand, status: PickupStatus::OnWay, owner_id: UserId::new(2), collector_id: Some(UserId::new(1)) };
/// assert_eq!(sides(&request).cafe, Some(UserId::new(1)));
/// assert_eq!(sides(&request).recycler, Some(UserId::new(2)));
/// ```
pub fn sides(pickup: &PickupSnapshot) -> Sides {
    match pickup.kind {
        PickupKind::Supply => Sides {
            cafe: Some(pickup.owner_id),
            recycler: pickup.collector_id,
        },
        PickupKind::Demand => Sides {
            cafe: pickup.collector_id,
            recycler: Some(pickup.owner_id),
        },
    }
}

/// Decides a status move. The actor is checked first (a stranger learns
/// nothing about the state), then the transition. Weight confirmation is
/// not a status move: see [`confirm_weight`].
///
/// | action | who | from → to |
/// |---|---|---|
/// | claim an offer | a recycler | waiting → on_way |
/// | claim a request | a cafe | waiting → on_way |
/// | complete | the recycler side | on_way → completed |
/// | cancel | the poster | waiting → cancelled |
pub fn decide(pickup: &PickupSnapshot, action: Action, actor: Actor) -> Result<Moved, MoveError> {
    let allowed = match action {
        Action::Claim => match pickup.kind {
            PickupKind::Supply => actor.role == ActorRole::Recycler,
            PickupKind::Demand => actor.role == ActorRole::Cafe,
        },
        Action::Complete => match pickup.kind {
            PickupKind::Supply => pickup.collector_id == Some(actor.user_id),
            PickupKind::Demand => pickup.owner_id == actor.user_id,
        },
        Action::Cancel => pickup.owner_id == actor.user_id,
        Action::ConfirmWeight => false,
    };
    if !allowed || pickup.owner_id == actor.user_id && action == Action::Claim {
        return Err(MoveError::WrongActor);
    }
    match (pickup.status, action) {
        (PickupStatus::Waiting, Action::Claim) => Ok(Moved {
            status: PickupStatus::OnWay,
            collector_id: Some(actor.user_id),
        }),
        (PickupStatus::OnWay, Action::Complete) => Ok(Moved {
            status: PickupStatus::Completed,
            collector_id: pickup.collector_id,
        }),
        (PickupStatus::Waiting, Action::Cancel) => Ok(Moved {
            status: PickupStatus::Cancelled,
            collector_id: None,
        }),
        (from, action) => Err(illegal(from, action)),
    }
}

/// How far a measured weight may exceed the posted amount before the cafe
/// must confirm it: 3/2 (more than 1.5×). The recycler alone weighs, so a
/// large surprise is checked by the other side before it counts.
pub const WEIGHT_CONFIRMATION_RATIO: (i64, i64) = (3, 2);

/// Whether `measured` is more than 1.5× `posted`.
///
/// ```
/// # use sitga_coffee_grounds::{needs_weight_confirmation, Grams};
/// let g = Grams::from_stored;
/// assert!(!needs_weight_confirmation(g(2_000), g(3_000)));
/// assert!(needs_weight_confirmation(g(2_000), g(3_100)));
/// ```
pub fn needs_weight_confirmation(posted: Grams, measured: Grams) -> bool {
    let (num, den) = WEIGHT_CONFIRMATION_RATIO;
    measured.get() * den > posted.get() * num
}

/// Whether `actor` may confirm the measured weight of a completed pickup:
/// only its cafe (who did not weigh it), only while a confirmation is
/// outstanding (`weight_confirmed` false and the weight over the ratio).
pub fn confirm_weight(
    pickup: &PickupSnapshot,
    posted: Grams,
    measured: Option<Grams>,
    weight_confirmed: bool,
    actor: Actor,
) -> Result<(), MoveError> {
    if sides(pickup).cafe != Some(actor.user_id) {
        return Err(MoveError::WrongActor);
    }
    if pickup.status != PickupStatus::Completed {
        return Err(illegal(pickup.status, Action::ConfirmWeight));
    }
    match measured {
        Some(m) if !weight_confirmed && needs_weight_confirmation(posted, m) => Ok(()),
        _ => Err(MoveError::NothingToConfirm),
    }
}

/// Why a completed pickup does not count (yet) for rankings, monthly
/// figures, badges and the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum NotCounted {
    /// It is not completed.
    NotCompleted,
    /// The cafe or the recycler is not a verified business.
    BusinessUnverified,
    /// The measured weight waits for the cafe's confirmation.
    WeightUnconfirmed,
}

impl NotCounted {
    /// API code.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotCompleted => "not_completed",
            Self::BusinessUnverified => "business_unverified",
            Self::WeightUnconfirmed => "weight_unconfirmed",
        }
    }
}

/// What decides whether a completed pickup counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountingFacts {
    /// Its status.
    pub status: PickupStatus,
    /// Whether the cafe is a verified business.
    pub cafe_verified: bool,
    /// Whether the recycler is a verified business.
    pub recycler_verified: bool,
    /// Posted amount.
    pub posted: Grams,
    /// Measured at completion.
    pub measured: Option<Grams>,
    /// Whether the cafe confirmed the measured weight.
    pub weight_confirmed: bool,
}

/// Whether a pickup counts: completed, both sides verified businesses (two
/// accounts of one person cannot both be verified under one number), and a
/// surprising weight confirmed by the cafe.
pub fn counting(facts: CountingFacts) -> Result<(), NotCounted> {
    if facts.status != PickupStatus::Completed {
        return Err(NotCounted::NotCompleted);
    }
    if !(facts.cafe_verified && facts.recycler_verified) {
        return Err(NotCounted::BusinessUnverified);
    }
    let surprising = facts
        .measured
        .is_some_and(|m| needs_weight_confirmation(facts.posted, m));
    if surprising && !facts.weight_confirmed {
        return Err(NotCounted::WeightUnconfirmed);
    }
    Ok(())
}

/// The donation a pickup makes, if any: a completed pickup (an offer or a
/// request, whoever posted it) donates the weight measured at collection
/// (the posted weight when none was measured), from its cafe. Unfinished
/// pickups donate nothing. This is what gets recorded on chain once the
/// pickup counts.
pub fn donation(status: PickupStatus, posted: Grams, measured: Option<Grams>) -> Option<Grams> {
    (status == PickupStatus::Completed).then(|| measured.unwrap_or(posted))
}

/// How many pickups one recycler may complete in a day. The collector
/// alone reports the weight, so two accounts of one person could otherwise
/// mint donations (and the chain transactions the platform pays for) without
/// bound; a real recycler's round is well under the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyCompletions {
    /// Completions allowed per recycler per day.
    pub per_day: u32,
}

impl Default for DailyCompletions {
    fn default() -> Self {
        Self { per_day: 30 }
    }
}

impl DailyCompletions {
    /// Whether one more completion is allowed after `done_today`.
    pub fn allows(self, done_today: i64) -> bool {
        done_today < i64::from(self.per_day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_stop_at_the_daily_limit() {
        let limit = DailyCompletions { per_day: 2 };
        assert!(limit.allows(0) && limit.allows(1));
        assert!(!limit.allows(2) && !limit.allows(50));
        assert!(!DailyCompletions { per_day: 0 }.allows(0));
    }

    #[test]
    fn a_completed_pickup_of_either_kind_donates_its_measured_weight() {
        let g = Grams::from_stored;
        let done = PickupStatus::Completed;
        assert_eq!(donation(done, g(2_500), Some(g(2_400))), Some(g(2_400)));
        assert_eq!(donation(done, g(2_500), None), Some(g(2_500)));
        for status in [
            PickupStatus::Waiting,
            PickupStatus::OnWay,
            PickupStatus::Cancelled,
        ] {
            assert_eq!(donation(status, g(2_500), None), None);
        }
    }

    fn offer(status: PickupStatus, collector: Option<UserId>) -> PickupSnapshot {
        PickupSnapshot {
            kind: PickupKind::Supply,
            status,
            owner_id: UserId::new(1),
            collector_id: collector,
        }
    }
    const CAFE: Actor = Actor {
        user_id: UserId::new(1),
        role: ActorRole::Cafe,
    };
    const RECYCLER: Actor = Actor {
        user_id: UserId::new(2),
        role: ActorRole::Recycler,
    };
    const OTHER_RECYCLER: Actor = Actor {
        user_id: UserId::new(3),
        role: ActorRole::Recycler,
    };
    const MEMBER: Actor = Actor {
        user_id: UserId::new(4),
        role: ActorRole::Other,
    };

    #[test]
    fn lifecycle_table() {
        use PickupStatus::*;
        let cases = [
            (offer(Waiting, None), Action::Claim, RECYCLER, Ok(OnWay)),
            (
                offer(Waiting, None),
                Action::Claim,
                CAFE,
                Err(MoveError::WrongActor),
            ),
            (
                offer(Waiting, None),
                Action::Claim,
                MEMBER,
                Err(MoveError::WrongActor),
            ),
            (
                offer(OnWay, Some(UserId::new(2))),
                Action::Claim,
                OTHER_RECYCLER,
                Err(illegal(OnWay, Action::Claim)),
            ),
            (
                offer(OnWay, Some(UserId::new(2))),
                Action::Complete,
                RECYCLER,
                Ok(Completed),
            ),
            (
                offer(OnWay, Some(UserId::new(2))),
                Action::Complete,
                OTHER_RECYCLER,
                Err(MoveError::WrongActor),
            ),
            (
                offer(OnWay, Some(UserId::new(2))),
                Action::Complete,
                CAFE,
                Err(MoveError::WrongActor),
            ),
            (
                offer(Completed, Some(UserId::new(2))),
                Action::Complete,
                RECYCLER,
                Err(illegal(Completed, Action::Complete)),
            ),
            (offer(Waiting, None), Action::Cancel, CAFE, Ok(Cancelled)),
            (
                offer(Waiting, None),
                Action::Cancel,
                RECYCLER,
                Err(MoveError::WrongActor),
            ),
            (
                offer(OnWay, Some(UserId::new(2))),
                Action::Cancel,
                CAFE,
                Err(illegal(OnWay, Action::Cancel)),
            ),
            (
                offer(Cancelled, None),
                Action::Claim,
                RECYCLER,
                Err(illegal(Cancelled, Action::Claim)),
            ),
        ];
        for (i, (p, action, actor, expected)) in cases.into_iter().enumerate() {
            assert_eq!(
                decide(&p, action, actor).map(|m| m.status),
                expected,
                "case {i}"
            );
        }
    }

    fn request(status: PickupStatus, cafe: Option<UserId>) -> PickupSnapshot {
        PickupSnapshot {
            kind: PickupKind::Demand,
            status,
            owner_id: UserId::new(2),
            collector_id: cafe,
        }
    }
    const OTHER_CAFE: Actor = Actor {
        user_id: UserId::new(5),
        role: ActorRole::Cafe,
    };

    #[test]
    fn requests_are_claimed_by_a_cafe_and_completed_by_their_recycler() {
        use PickupStatus::*;
        let cafe = Some(UserId::new(1));
        let cases = [
            (request(Waiting, None), Action::Claim, CAFE, Ok(OnWay)),
            (
                request(Waiting, None),
                Action::Claim,
                OTHER_RECYCLER,
                Err(MoveError::WrongActor),
            ),
            (
                request(Waiting, None),
                Action::Claim,
                RECYCLER,
                Err(MoveError::WrongActor),
            ),
            (
                request(Waiting, None),
                Action::Claim,
                MEMBER,
                Err(MoveError::WrongActor),
            ),
            (
                request(OnWay, cafe),
                Action::Claim,
                OTHER_CAFE,
                Err(illegal(OnWay, Action::Claim)),
            ),
            (
                request(Waiting, None),
                Action::Complete,
                RECYCLER,
                Err(illegal(Waiting, Action::Complete)),
            ),
            (
                request(OnWay, cafe),
                Action::Complete,
                RECYCLER,
                Ok(Completed),
            ),
            (
                request(OnWay, cafe),
                Action::Complete,
                CAFE,
                Err(MoveError::WrongActor),
            ),
            (
                request(OnWay, cafe),
                Action::Complete,
                OTHER_RECYCLER,
                Err(MoveError::WrongActor),
            ),
            (
                request(Waiting, None),
                Action::Cancel,
                RECYCLER,
                Ok(Cancelled),
            ),
            (
                request(Waiting, None),
                Action::Cancel,
                CAFE,
                Err(MoveError::WrongActor),
            ),
            (
                request(OnWay, cafe),
                Action::Cancel,
                RECYCLER,
                Err(illegal(OnWay, Action::Cancel)),
            ),
            (
                request(Completed, cafe),
                Action::ConfirmWeight,
                CAFE,
                Err(MoveError::WrongActor),
            ),
        ];
        for (i, (p, action, actor, expected)) in cases.into_iter().enumerate() {
            assert_eq!(
                decide(&p, action, actor).map(|m| m.status),
                expected,
                "case {i}"
            );
        }
        let claimed = decide(&request(Waiting, None), Action::Claim, CAFE).unwrap();
        assert_eq!(claimed.collector_id, Some(CAFE.user_id));
        let sides = sides(&request(OnWay, cafe));
        assert_eq!((sides.cafe, sides.recycler), (cafe, Some(UserId::new(2))));
        let sides = super::sides(&offer(Waiting, None));
        assert_eq!((sides.cafe, sides.recycler), (Some(UserId::new(1)), None));
    }

    #[test]
    fn a_surprising_weight_is_confirmed_by_the_cafe_only_once() {
        let g = Grams::from_stored;
        let done_offer = offer(PickupStatus::Completed, Some(UserId::new(2)));
        let done_request = request(PickupStatus::Completed, Some(UserId::new(1)));
        // 3.0 kg on 2.0 kg posted is exactly 1.5×: nothing to confirm.
        assert!(!needs_weight_confirmation(g(2_000), g(3_000)));
        assert!(needs_weight_confirmation(g(2_000), g(3_100)));
        for pickup in [done_offer, done_request] {
            assert_eq!(
                confirm_weight(&pickup, g(2_000), Some(g(3_100)), false, CAFE),
                Ok(())
            );
            for stranger in [RECYCLER, OTHER_CAFE, MEMBER] {
                assert_eq!(
                    confirm_weight(&pickup, g(2_000), Some(g(3_100)), false, stranger),
                    Err(MoveError::WrongActor)
                );
            }
            assert_eq!(
                confirm_weight(&pickup, g(2_000), Some(g(3_100)), true, CAFE),
                Err(MoveError::NothingToConfirm)
            );
            assert_eq!(
                confirm_weight(&pickup, g(2_000), Some(g(3_000)), false, CAFE),
                Err(MoveError::NothingToConfirm)
            );
        }
        let on_way = offer(PickupStatus::OnWay, Some(UserId::new(2)));
        assert_eq!(
            confirm_weight(&on_way, g(2_000), None, false, CAFE),
            Err(illegal(PickupStatus::OnWay, Action::ConfirmWeight))
        );
    }

    #[test]
    fn a_pickup_counts_once_both_businesses_are_verified_and_the_weight_is_honest() {
        let g = Grams::from_stored;
        let base = CountingFacts {
            status: PickupStatus::Completed,
            cafe_verified: true,
            recycler_verified: true,
            posted: g(2_000),
            measured: Some(g(2_500)),
            weight_confirmed: false,
        };
        assert_eq!(counting(base), Ok(()));
        let cases = [
            (
                CountingFacts {
                    status: PickupStatus::OnWay,
                    ..base
                },
                Err(NotCounted::NotCompleted),
            ),
            (
                CountingFacts {
                    cafe_verified: false,
                    ..base
                },
                Err(NotCounted::BusinessUnverified),
            ),
            (
                CountingFacts {
                    recycler_verified: false,
                    ..base
                },
                Err(NotCounted::BusinessUnverified),
            ),
            (
                CountingFacts {
                    measured: Some(g(1_000_000)),
                    ..base
                },
                Err(NotCounted::WeightUnconfirmed),
            ),
            (
                CountingFacts {
                    measured: Some(g(1_000_000)),
                    weight_confirmed: true,
                    ..base
                },
                Ok(()),
            ),
            (
                CountingFacts {
                    measured: Some(g(1_000_000)),
                    recycler_verified: false,
                    ..base
                },
                Err(NotCounted::BusinessUnverified),
            ),
        ];
        for (i, (facts, expected)) in cases.into_iter().enumerate() {
            assert_eq!(counting(facts), expected, "case {i}");
        }
    }

    #[test]
    fn amounts() {
        for (kg, grams) in [
            (0.1, 100),
            (2.5, 2_500),
            (1000.0, 1_000_000),
            (0.3, 300),
            (123.4, 123_400),
        ] {
            assert_eq!(Grams::from_kg(kg).unwrap().get(), grams, "{kg}");
        }
        // Huge values must be refused, not overflow (found by schemathesis).
        for bad in [
            0.0,
            -1.0,
            0.04,
            1000.05,
            2.55,
            f64::INFINITY,
            9_223_372_036_854_776.0,
            -9.2e18,
            1e300,
        ] {
            assert!(Grams::from_kg(bad).is_err(), "{bad}");
        }
        assert_eq!(kind_for(ActorRole::Cafe), Some(PickupKind::Supply));
        assert_eq!(kind_for(ActorRole::Other), None);
    }
}

// The README's examples are tested with the crate's.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(all(test, feature = "serde"))]
mod serde_tests {
    use super::*;

    #[test]
    fn amounts_and_states_travel_as_the_platform_writes_them() {
        let offer = PickupSnapshot {
            kind: PickupKind::Supply,
            status: PickupStatus::OnWay,
            owner_id: UserId::new(1),
            collector_id: Some(UserId::new(2)),
        };
        let json = serde_json::to_value(offer).unwrap();
        assert_eq!(json["kind"], "supply");
        assert_eq!(json["status"], "on_way");
        assert_eq!(
            serde_json::from_value::<PickupSnapshot>(json).unwrap(),
            offer
        );
        assert_eq!(
            serde_json::to_string(&Grams::from_kg(2.5).unwrap()).unwrap(),
            "2500"
        );
        // Deserializing checks the rule: no 0 kg, no 2.55 kg.
        assert!(serde_json::from_str::<Grams>("0").is_err());
        assert!(serde_json::from_str::<Grams>("2550").is_err());
        assert!(serde_json::from_str::<PickupStatus>(r#""lost""#).is_err());
    }
}
