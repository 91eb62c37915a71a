//! From the hammer to the handover: a sale's states, who may move it, when,
//! and where its escrowed money goes.
//!
//! At the close the winner's points leave their wallet into an escrow for
//! the sale. The buyer chooses one of the lot's delivery options; the
//! seller ships it (courier) or makes it ready for pickup; the buyer
//! confirms receipt, or the seller enters the buyer's handover code at the
//! pickup; then the escrow is paid to the seller. Deadlines let either side
//! walk away from a partner who does nothing, and let a shipped sale
//! confirm itself. Before settlement the buyer may dispute; the escrow
//! freezes until an operator refunds it, releases it, or splits it.
//!
//! Every path pays the escrow out exactly once, and in full:
//!
//! ```
//! use chrono::{Duration, Utc};
//! use sitga_auction::{Krw, Sale, SaleAction, SaleActor, SaleState, Deadlines, DeliveryChoice};
//!
//! let now = Utc::now();
//! let sale = Sale::new(Krw::new(42_000), true, Some(Krw::new(4_000)), now);
//! let rules = Deadlines::default();
//! let step = sale
//!     .decide(SaleActor::Buyer, &SaleAction::GiveDetails(DeliveryChoice::Pickup), now, &rules)?;
//! let sale = step.sale;
//! let step = sale.decide(SaleActor::Seller, &SaleAction::ReadyForPickup, now, &rules)?;
//! let step = step
//!     .sale
//!     .decide(SaleActor::Seller, &SaleAction::Handover { code_matches: true }, now, &rules)?;
//! assert_eq!(step.sale.state, SaleState::Settled);
//! assert_eq!(step.payout.map(|p| (p.to_seller, p.to_buyer)), Some((Krw::new(42_000), Krw::ZERO)));
//! # Ok::<(), sitga_auction::SaleRefusal>(())
//! ```

use chrono::{DateTime, Duration, Utc};
use sitga_core::Krw;

/// Where a sale stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaleState {
    /// Waiting for the buyer to choose pickup or courier (and an address).
    AwaitingDetails,
    /// Waiting for the seller to ship or make it ready.
    AwaitingShipment,
    /// On its way by courier.
    Shipped,
    /// Waiting at the pickup place; the buyer holds a handover code.
    ReadyForPickup,
    /// The buyer has it (momentary: the escrow is paid out at once).
    Received,
    /// The escrow went to the seller (all of it, or the rest of a split).
    Settled,
    /// The buyer disputed it; the escrow is frozen for an operator.
    Disputed,
    /// Called off before shipping; the escrow went back to the buyer.
    Cancelled,
    /// An operator refunded the disputed escrow to the buyer.
    Refunded,
}

impl SaleState {
    /// Every state.
    pub const ALL: [SaleState; 9] = [
        SaleState::AwaitingDetails,
        SaleState::AwaitingShipment,
        SaleState::Shipped,
        SaleState::ReadyForPickup,
        SaleState::Received,
        SaleState::Settled,
        SaleState::Disputed,
        SaleState::Cancelled,
        SaleState::Refunded,
    ];

    /// The stable code on the wire.
    pub fn code(self) -> &'static str {
        match self {
            SaleState::AwaitingDetails => "awaiting_details",
            SaleState::AwaitingShipment => "awaiting_shipment",
            SaleState::Shipped => "shipped",
            SaleState::ReadyForPickup => "ready_for_pickup",
            SaleState::Received => "received",
            SaleState::Settled => "settled",
            SaleState::Disputed => "disputed",
            SaleState::Cancelled => "cancelled",
            SaleState::Refunded => "refunded",
        }
    }

    /// The state a code names.
    pub fn parse(code: &str) -> Option<SaleState> {
        SaleState::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Whether the escrow is paid out and nothing more can happen.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            SaleState::Settled | SaleState::Cancelled | SaleState::Refunded
        )
    }
}

/// How the buyer gets the fish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryChoice {
    /// In person, at the seller's pickup place.
    Pickup,
    /// By courier, to the buyer's address.
    Courier,
}

/// Who asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaleActor {
    /// The winner.
    Buyer,
    /// The angler.
    Seller,
    /// An operator (disputes).
    Operator,
    /// A timeout job.
    System,
}

/// How an operator ends a dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisputeOutcome {
    /// All back to the buyer.
    Refund,
    /// All to the seller.
    Release,
    /// This much back to the buyer, the rest to the seller.
    Split {
        /// The buyer's part (0 < it < the price).
        buyer: Krw,
    },
}

/// A step someone asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaleAction {
    /// The buyer chooses how to get it.
    GiveDetails(DeliveryChoice),
    /// The seller hands it to a courier.
    Ship,
    /// The seller has it waiting at the pickup place.
    ReadyForPickup,
    /// The buyer says they have it.
    Confirm,
    /// The seller enters the buyer's code at the pickup.
    Handover {
        /// Whether the code given is the sale's.
        code_matches: bool,
    },
    /// A shipped sale past its confirmation deadline confirms itself.
    AutoConfirm,
    /// The seller gives up on a buyer who never gave details.
    CancelBySeller,
    /// The buyer gives up on a seller who never shipped.
    CancelByBuyer,
    /// The buyer disputes it.
    Dispute,
    /// An operator ends the dispute.
    Resolve(DisputeOutcome),
}

/// How long each side has (configurable; these are the defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// For the buyer's details, from the close (then the seller may cancel).
    pub details: Duration,
    /// For shipping, from the details (then the buyer may cancel).
    pub shipment: Duration,
    /// For the buyer's confirmation, from shipping (then it confirms itself).
    pub confirmation: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            details: Duration::days(2),
            shipment: Duration::days(2),
            confirmation: Duration::days(3),
        }
    }
}

/// A sale as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sale {
    /// The hammer price, all in escrow until paid out.
    pub price: Krw,
    /// Where it stands.
    pub state: SaleState,
    /// When it entered `state`.
    pub since: DateTime<Utc>,
    /// What the buyer chose, once they did.
    pub delivery: Option<DeliveryChoice>,
    /// Whether the lot offered pickup.
    pub offers_pickup: bool,
    /// The courier fee, if the lot offered a courier.
    pub courier_fee: Option<Krw>,
    /// The courier fee the buyer paid into the escrow with their details
    /// (zero for pickup, or until they chose).
    pub fee_paid: Krw,
    /// Wrong handover codes the seller entered so far.
    pub failed_handovers: u32,
}

/// Wrong handover codes after which the seller can no longer settle by
/// code (a six-digit code must not be guessable): the buyer confirms
/// instead, or disputes.
pub const MAX_HANDOVER_ATTEMPTS: u32 = 5;

/// How long after a sale ends its seller still sees the buyer's address.
pub const ADDRESS_RETENTION: Duration = Duration::days(30);

/// Where the escrow goes when a step pays it out (the two add up to the
/// price).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payout {
    /// Paid to the seller.
    pub to_seller: Krw,
    /// Returned to the buyer.
    pub to_buyer: Krw,
}

/// A decided step: the sale after it, what the buyer pays into the escrow
/// with it, and the payout it makes (if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaleStep {
    /// The sale after the step.
    pub sale: Sale,
    /// Taken from the buyer's points into the escrow by this step (the
    /// courier fee, when the buyer chooses the courier).
    pub escrow_in: Krw,
    /// The escrow paid out by this step; at most once per sale.
    pub payout: Option<Payout>,
}

/// Why a step is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SaleRefusal {
    /// That side may not take this step.
    #[error("only the {0} may do this")]
    NotYours(&'static str),
    /// Not in this state.
    #[error("the sale is {}: this step does not apply", .0.code())]
    WrongState(SaleState),
    /// The lot does not offer that delivery.
    #[error("the lot does not offer this delivery")]
    NotOffered,
    /// The other side still has time.
    #[error("the other side still has until {0}")]
    TooEarly(DateTime<Utc>),
    /// The handover code is wrong.
    #[error("the handover code does not match")]
    WrongCode,
    /// Too many wrong codes: only the buyer's confirmation settles it now.
    #[error("too many wrong handover codes: the buyer must confirm receipt instead")]
    HandoverLocked,
    /// A split must give each side something, and no more than the price.
    #[error("a split gives the buyer more than nothing and less than the price")]
    BadSplit,
}

impl Sale {
    /// A sale at the close: `price` in escrow, waiting for the buyer's
    /// details. A lot that named no delivery (listed before lots had
    /// options) offers both, the courier at no fee: the two sides agree on
    /// it between them.
    pub fn new(
        price: Krw,
        offers_pickup: bool,
        courier_fee: Option<Krw>,
        closed_at: DateTime<Utc>,
    ) -> Sale {
        let (offers_pickup, courier_fee) = if !offers_pickup && courier_fee.is_none() {
            (true, Some(Krw::ZERO))
        } else {
            (offers_pickup, courier_fee)
        };
        Sale {
            price,
            state: SaleState::AwaitingDetails,
            since: closed_at,
            delivery: None,
            offers_pickup,
            courier_fee,
            fee_paid: Krw::ZERO,
            failed_handovers: 0,
        }
    }

    /// What the escrow holds: the price, and the courier fee once paid.
    pub fn escrow(&self) -> Krw {
        self.price + self.fee_paid
    }

    /// When the current state's deadline passes, if it has one.
    pub fn deadline(&self, rules: &Deadlines) -> Option<DateTime<Utc>> {
        match self.state {
            SaleState::AwaitingDetails => Some(self.since + rules.details),
            SaleState::AwaitingShipment => Some(self.since + rules.shipment),
            SaleState::Shipped => Some(self.since + rules.confirmation),
            _ => None,
        }
    }

    fn to(self, state: SaleState, now: DateTime<Utc>) -> Sale {
        Sale {
            state,
            since: now,
            ..self
        }
    }

    fn settled(self, now: DateTime<Utc>) -> SaleStep {
        SaleStep {
            sale: self.to(SaleState::Settled, now),
            escrow_in: Krw::ZERO,
            payout: Some(Payout {
                to_seller: self.escrow(),
                to_buyer: Krw::ZERO,
            }),
        }
    }

    fn refunded(self, state: SaleState, now: DateTime<Utc>) -> SaleStep {
        SaleStep {
            sale: self.to(state, now),
            escrow_in: Krw::ZERO,
            payout: Some(Payout {
                to_seller: Krw::ZERO,
                to_buyer: self.escrow(),
            }),
        }
    }

    fn past_deadline(&self, now: DateTime<Utc>, rules: &Deadlines) -> Result<(), SaleRefusal> {
        match self.deadline(rules) {
            Some(at) if now < at => Err(SaleRefusal::TooEarly(at)),
            _ => Ok(()),
        }
    }

    /// Decides `action` by `actor` at `now`. Receiving settles at once
    /// (the step's sale is `Settled`, its payout the whole escrow); a final
    /// state refuses everything.
    pub fn decide(
        &self,
        actor: SaleActor,
        action: &SaleAction,
        now: DateTime<Utc>,
        rules: &Deadlines,
    ) -> Result<SaleStep, SaleRefusal> {
        use SaleActor as A;
        use SaleState as S;
        let only = |who: SaleActor, name: &'static str| {
            if actor == who {
                Ok(())
            } else {
                Err(SaleRefusal::NotYours(name))
            }
        };
        let wrong = Err(SaleRefusal::WrongState(self.state));
        let moved = |state| {
            Ok(SaleStep {
                sale: self.to(state, now),
                escrow_in: Krw::ZERO,
                payout: None,
            })
        };
        match action {
            SaleAction::GiveDetails(choice) => {
                only(A::Buyer, "buyer")?;
                if self.state != S::AwaitingDetails {
                    return wrong;
                }
                let fee = match choice {
                    DeliveryChoice::Pickup if self.offers_pickup => Krw::ZERO,
                    DeliveryChoice::Courier => self.courier_fee.ok_or(SaleRefusal::NotOffered)?,
                    DeliveryChoice::Pickup => return Err(SaleRefusal::NotOffered),
                };
                Ok(SaleStep {
                    sale: Sale {
                        delivery: Some(*choice),
                        fee_paid: fee,
                        ..self.to(S::AwaitingShipment, now)
                    },
                    escrow_in: fee,
                    payout: None,
                })
            }
            SaleAction::Ship | SaleAction::ReadyForPickup => {
                only(A::Seller, "seller")?;
                if self.state != S::AwaitingShipment {
                    return wrong;
                }
                match (action, self.delivery) {
                    (SaleAction::Ship, Some(DeliveryChoice::Courier)) => moved(S::Shipped),
                    (SaleAction::ReadyForPickup, Some(DeliveryChoice::Pickup)) => {
                        moved(S::ReadyForPickup)
                    }
                    _ => Err(SaleRefusal::NotOffered),
                }
            }
            SaleAction::Confirm => {
                only(A::Buyer, "buyer")?;
                match self.state {
                    S::Shipped | S::ReadyForPickup => Ok(self.settled(now)),
                    _ => wrong,
                }
            }
            SaleAction::Handover { code_matches } => {
                only(A::Seller, "seller")?;
                if self.state != S::ReadyForPickup {
                    return wrong;
                }
                if self.failed_handovers >= MAX_HANDOVER_ATTEMPTS {
                    return Err(SaleRefusal::HandoverLocked);
                }
                if !code_matches {
                    return Err(SaleRefusal::WrongCode);
                }
                Ok(self.settled(now))
            }
            SaleAction::AutoConfirm => {
                only(A::System, "system")?;
                if self.state != S::Shipped {
                    return wrong;
                }
                self.past_deadline(now, rules)?;
                Ok(self.settled(now))
            }
            SaleAction::CancelBySeller => {
                only(A::Seller, "seller")?;
                if self.state != S::AwaitingDetails {
                    return wrong;
                }
                self.past_deadline(now, rules)?;
                Ok(self.refunded(S::Cancelled, now))
            }
            SaleAction::CancelByBuyer => {
                only(A::Buyer, "buyer")?;
                if self.state != S::AwaitingShipment {
                    return wrong;
                }
                self.past_deadline(now, rules)?;
                Ok(self.refunded(S::Cancelled, now))
            }
            SaleAction::Dispute => {
                only(A::Buyer, "buyer")?;
                match self.state {
                    S::AwaitingShipment | S::Shipped | S::ReadyForPickup => moved(S::Disputed),
                    _ => wrong,
                }
            }
            SaleAction::Resolve(outcome) => {
                only(A::Operator, "operator")?;
                if self.state != S::Disputed {
                    return wrong;
                }
                match *outcome {
                    DisputeOutcome::Refund => Ok(self.refunded(S::Refunded, now)),
                    DisputeOutcome::Release => Ok(self.settled(now)),
                    DisputeOutcome::Split { buyer } => {
                        if buyer <= Krw::ZERO || buyer >= self.escrow() {
                            return Err(SaleRefusal::BadSplit);
                        }
                        Ok(SaleStep {
                            sale: self.to(S::Settled, now),
                            escrow_in: Krw::ZERO,
                            payout: Some(Payout {
                                to_seller: self.escrow() - buyer,
                                to_buyer: buyer,
                            }),
                        })
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_action(price: Krw) -> Vec<(SaleActor, SaleAction)> {
        let mut all = Vec::new();
        let actions = [
            SaleAction::GiveDetails(DeliveryChoice::Pickup),
            SaleAction::GiveDetails(DeliveryChoice::Courier),
            SaleAction::Ship,
            SaleAction::ReadyForPickup,
            SaleAction::Confirm,
            SaleAction::Handover { code_matches: true },
            SaleAction::Handover {
                code_matches: false,
            },
            SaleAction::AutoConfirm,
            SaleAction::CancelBySeller,
            SaleAction::CancelByBuyer,
            SaleAction::Dispute,
            SaleAction::Resolve(DisputeOutcome::Refund),
            SaleAction::Resolve(DisputeOutcome::Release),
            SaleAction::Resolve(DisputeOutcome::Split { buyer: Krw::new(1) }),
            SaleAction::Resolve(DisputeOutcome::Split {
                buyer: price - Krw::new(1),
            }),
            SaleAction::Resolve(DisputeOutcome::Split { buyer: price }),
        ];
        for actor in [
            SaleActor::Buyer,
            SaleActor::Seller,
            SaleActor::Operator,
            SaleActor::System,
        ] {
            for action in &actions {
                all.push((actor, action.clone()));
            }
        }
        all
    }

    /// Every sequence of up to five steps, by anyone, each either right
    /// after the last or after every deadline: the escrow is paid out at
    /// most once, in full, only into a final state, and a final state takes
    /// nothing more.
    #[test]
    fn money_is_conserved_on_every_path() {
        let price = Krw::new(37_000);
        let fee = Krw::new(4_000);
        let rules = Deadlines::default();
        let actions = every_action(price);
        let start = Utc::now();
        let mut frontier = vec![(
            Sale::new(price, true, Some(fee), start),
            Krw::ZERO,
            Krw::ZERO,
            0u8,
        )];
        let mut reached = std::collections::HashSet::new();
        for _ in 0..5 {
            let mut next = Vec::new();
            for (sale, seller, buyer, payouts) in frontier {
                for gap in [Duration::zero(), Duration::days(4)] {
                    let now = sale.since + gap;
                    for (actor, action) in &actions {
                        let Ok(step) = sale.decide(*actor, action, now, &rules) else {
                            continue;
                        };
                        assert!(
                            !sale.state.is_final(),
                            "{:?} moved from {:?}",
                            action,
                            sale.state
                        );
                        let (mut s, mut b, mut n) = (seller, buyer, payouts);
                        assert_eq!(
                            step.sale.escrow(),
                            sale.escrow() + step.escrow_in,
                            "{action:?}: what comes in stays in"
                        );
                        if let Some(p) = step.payout {
                            assert_eq!(p.to_seller + p.to_buyer, sale.escrow(), "{action:?}");
                            assert!(p.to_seller >= Krw::ZERO && p.to_buyer >= Krw::ZERO);
                            assert!(
                                step.sale.state.is_final(),
                                "{action:?} paid out into {:?}",
                                step.sale.state
                            );
                            s += p.to_seller;
                            b += p.to_buyer;
                            n += 1;
                        } else {
                            assert!(
                                !step.sale.state.is_final(),
                                "{action:?} ended without paying out"
                            );
                        }
                        assert!(n <= 1, "paid twice");
                        let paid_out = if step.sale.state.is_final() {
                            step.sale.escrow()
                        } else {
                            Krw::ZERO
                        };
                        assert_eq!(s + b, paid_out, "all or nothing of the escrow is out");
                        reached.insert(step.sale.state);
                        next.push((step.sale, s, b, n));
                    }
                }
            }
            frontier = next;
        }
        // Every state is reached (but `received`, which settles at once), so
        // the paths above are all the machine has.
        let missing: Vec<_> = SaleState::ALL
            .into_iter()
            .filter(|s| *s != SaleState::AwaitingDetails && *s != SaleState::Received)
            .filter(|s| !reached.contains(s))
            .collect();
        assert!(missing.is_empty(), "never reached {missing:?}");
    }

    #[test]
    fn the_happy_paths_settle_to_the_seller() {
        let now = Utc::now();
        let rules = Deadlines::default();
        let price = Krw::new(50_000);
        // Courier: details, ship, confirm.
        let sale = Sale::new(price, false, Some(Krw::new(5_000)), now);
        let s = sale
            .decide(
                SaleActor::Buyer,
                &SaleAction::GiveDetails(DeliveryChoice::Courier),
                now,
                &rules,
            )
            .unwrap()
            .sale;
        assert_eq!(s.state, SaleState::AwaitingShipment);
        let s = s
            .decide(SaleActor::Seller, &SaleAction::Ship, now, &rules)
            .unwrap()
            .sale;
        assert_eq!(s.state, SaleState::Shipped);
        let done = s
            .decide(SaleActor::Buyer, &SaleAction::Confirm, now, &rules)
            .unwrap();
        assert_eq!(done.sale.state, SaleState::Settled);
        assert_eq!(
            done.payout,
            Some(Payout {
                to_seller: price + Krw::new(5_000),
                to_buyer: Krw::ZERO
            }),
            "the courier fee the buyer paid goes to the seller with the price"
        );
        // Nobody confirms: three days after shipping it confirms itself.
        let early = s.decide(
            SaleActor::System,
            &SaleAction::AutoConfirm,
            now + Duration::days(2),
            &rules,
        );
        assert_eq!(early, Err(SaleRefusal::TooEarly(now + Duration::days(3))));
        let auto = s
            .decide(
                SaleActor::System,
                &SaleAction::AutoConfirm,
                now + Duration::days(3),
                &rules,
            )
            .unwrap();
        assert_eq!(auto.sale.state, SaleState::Settled);
    }

    #[test]
    fn refusals_say_why() {
        let now = Utc::now();
        let rules = Deadlines::default();
        let sale = Sale::new(Krw::new(10_000), true, None, now);
        let ask = |s: &Sale, who, what: SaleAction, at| s.decide(who, &what, at, &rules);
        assert_eq!(
            ask(
                &sale,
                SaleActor::Buyer,
                SaleAction::GiveDetails(DeliveryChoice::Courier),
                now
            ),
            Err(SaleRefusal::NotOffered)
        );
        assert_eq!(
            ask(
                &sale,
                SaleActor::Seller,
                SaleAction::GiveDetails(DeliveryChoice::Pickup),
                now
            ),
            Err(SaleRefusal::NotYours("buyer"))
        );
        assert_eq!(
            ask(
                &sale,
                SaleActor::Seller,
                SaleAction::CancelBySeller,
                now + Duration::days(1)
            ),
            Err(SaleRefusal::TooEarly(now + Duration::days(2)))
        );
        let cancelled = ask(
            &sale,
            SaleActor::Seller,
            SaleAction::CancelBySeller,
            now + Duration::days(2),
        )
        .unwrap();
        assert_eq!(cancelled.sale.state, SaleState::Cancelled);
        assert_eq!(cancelled.payout.unwrap().to_buyer, Krw::new(10_000));
        let ready = ask(
            &sale,
            SaleActor::Buyer,
            SaleAction::GiveDetails(DeliveryChoice::Pickup),
            now,
        )
        .and_then(|s| ask(&s.sale, SaleActor::Seller, SaleAction::ReadyForPickup, now))
        .unwrap()
        .sale;
        assert_eq!(
            ask(
                &ready,
                SaleActor::Seller,
                SaleAction::Handover {
                    code_matches: false
                },
                now
            ),
            Err(SaleRefusal::WrongCode)
        );
        assert_eq!(
            ask(&ready, SaleActor::Seller, SaleAction::Ship, now),
            Err(SaleRefusal::WrongState(SaleState::ReadyForPickup))
        );
        let disputed = ask(&ready, SaleActor::Buyer, SaleAction::Dispute, now)
            .unwrap()
            .sale;
        assert_eq!(
            ask(&disputed, SaleActor::Buyer, SaleAction::Confirm, now),
            Err(SaleRefusal::WrongState(SaleState::Disputed)),
            "a dispute freezes the escrow"
        );
        assert_eq!(
            ask(
                &disputed,
                SaleActor::Operator,
                SaleAction::Resolve(DisputeOutcome::Split { buyer: Krw::ZERO }),
                now
            ),
            Err(SaleRefusal::BadSplit)
        );
        let split = ask(
            &disputed,
            SaleActor::Operator,
            SaleAction::Resolve(DisputeOutcome::Split {
                buyer: Krw::new(4_000),
            }),
            now,
        )
        .unwrap();
        assert_eq!(
            split.payout,
            Some(Payout {
                to_seller: Krw::new(6_000),
                to_buyer: Krw::new(4_000)
            })
        );
        for state in SaleState::ALL {
            assert_eq!(SaleState::parse(state.code()), Some(state));
        }
        let guessed = Sale {
            failed_handovers: MAX_HANDOVER_ATTEMPTS,
            ..ready
        };
        assert_eq!(
            ask(
                &guessed,
                SaleActor::Seller,
                SaleAction::Handover { code_matches: true },
                now
            ),
            Err(SaleRefusal::HandoverLocked),
            "a guessed code settles nothing once the attempts are used up"
        );
        assert!(
            ask(&guessed, SaleActor::Buyer, SaleAction::Confirm, now).is_ok(),
            "the buyer can still confirm"
        );
    }

    #[test]
    fn a_lot_without_delivery_options_offers_both() {
        let sale = Sale::new(Krw::new(9_000), false, None, Utc::now());
        assert!(sale.offers_pickup);
        assert_eq!(sale.courier_fee, Some(Krw::ZERO));
    }
}
