//! What a user can be told about, and which of it they want.
//!
//! Every notification has a [`NotificationKind`]; a user turns kinds off
//! (all are on until they do). Each notification also has a key that names
//! its event ([`dedupe_key`]), unique per user: the same event stored twice
//! (two instances, a retried job, a restart) is one notification.

use std::collections::BTreeMap;

/// The kinds of notification, in the order settings list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotificationKind {
    /// Someone bid over you.
    Outbid,
    /// Your maximum (proxy) bid needed more points than you have: it bid
    /// what they covered and stopped.
    ProxyExhausted,
    /// You won an auction.
    Won,
    /// Your auction sold.
    Sold,
    /// An auction you watch or bid on ends in 10 minutes, then in 1.
    EndingSoon,
    /// A step of a sale's handover (shipped, received, disputed, paid out, …).
    SaleUpdate,
    /// A recycler claimed your coffee grounds.
    PickupClaimed,
    /// A pickup you are part of was completed.
    PickupCompleted,
    /// You earned a badge.
    BadgeAwarded,
}

impl NotificationKind {
    /// Every kind.
    pub const ALL: [Self; 9] = [
        Self::Outbid,
        Self::ProxyExhausted,
        Self::Won,
        Self::Sold,
        Self::EndingSoon,
        Self::SaleUpdate,
        Self::PickupClaimed,
        Self::PickupCompleted,
        Self::BadgeAwarded,
    ];

    /// The stable code (wire and database).
    pub const fn code(self) -> &'static str {
        match self {
            Self::Outbid => "outbid",
            Self::ProxyExhausted => "proxy_exhausted",
            Self::Won => "won",
            Self::Sold => "sold",
            Self::EndingSoon => "ending_soon",
            Self::SaleUpdate => "sale_update",
            Self::PickupClaimed => "pickup_claimed",
            Self::PickupCompleted => "pickup_completed",
            Self::BadgeAwarded => "badge_awarded",
        }
    }

    /// The kind of a code.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// Which event a notification is about: what makes it one. Keys are at
/// most 100 bytes (every part is a number or a short code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeEvent<'a> {
    /// Outbid on `auction` by its bid number `by_seq`.
    Outbid {
        /// Auction id.
        auction: i64,
        /// The sequence number of the bid that outbid.
        by_seq: i64,
    },
    /// The maximum on `auction` ran out of points answering bid `at_seq`.
    ProxyExhausted {
        /// Auction id.
        auction: i64,
        /// The sequence number of the bid it had to answer.
        at_seq: i64,
    },
    /// Won `auction`.
    Won {
        /// Auction id.
        auction: i64,
    },
    /// Sold `auction`.
    Sold {
        /// Auction id.
        auction: i64,
    },
    /// Bought units of clock auction `auction` in sale `sale` (one per
    /// accept: a buyer may accept several times).
    BoughtUnits {
        /// Auction id.
        auction: i64,
        /// Sale id.
        sale: i64,
    },
    /// Sold units of clock auction `auction` in sale `sale`.
    SoldUnits {
        /// Auction id.
        auction: i64,
        /// Sale id.
        sale: i64,
    },
    /// `auction` ends in `minutes`.
    EndingSoon {
        /// Auction id.
        auction: i64,
        /// 10 or 1.
        minutes: i64,
    },
    /// Sale `sale` reached `step`.
    SaleUpdate {
        /// Sale id.
        sale: i64,
        /// The step's code (`shipped`, `received`, …).
        step: &'a str,
    },
    /// Pickup `pickup` was claimed.
    PickupClaimed {
        /// Pickup id.
        pickup: i64,
    },
    /// Pickup `pickup` was completed.
    PickupCompleted {
        /// Pickup id.
        pickup: i64,
    },
    /// Badge `code` earned.
    BadgeAwarded {
        /// The badge's code.
        code: &'a str,
    },
}

impl NoticeEvent<'_> {
    /// The kind.
    pub const fn kind(&self) -> NotificationKind {
        match self {
            Self::Outbid { .. } => NotificationKind::Outbid,
            Self::ProxyExhausted { .. } => NotificationKind::ProxyExhausted,
            Self::Won { .. } => NotificationKind::Won,
            Self::Sold { .. } | Self::SoldUnits { .. } => NotificationKind::Sold,
            Self::BoughtUnits { .. } => NotificationKind::Won,
            Self::EndingSoon { .. } => NotificationKind::EndingSoon,
            Self::SaleUpdate { .. } => NotificationKind::SaleUpdate,
            Self::PickupClaimed { .. } => NotificationKind::PickupClaimed,
            Self::PickupCompleted { .. } => NotificationKind::PickupCompleted,
            Self::BadgeAwarded { .. } => NotificationKind::BadgeAwarded,
        }
    }
}

/// The key that makes a notification one per user and event.
pub fn dedupe_key(event: &NoticeEvent<'_>) -> String {
    let kind = event.kind().code();
    match event {
        NoticeEvent::Outbid { auction, by_seq } => format!("{kind}:{auction}:{by_seq}"),
        NoticeEvent::ProxyExhausted { auction, at_seq } => format!("{kind}:{auction}:{at_seq}"),
        NoticeEvent::Won { auction } | NoticeEvent::Sold { auction } => {
            format!("{kind}:{auction}")
        }
        NoticeEvent::BoughtUnits { auction, sale } | NoticeEvent::SoldUnits { auction, sale } => {
            format!("{kind}:{auction}:{sale}")
        }
        NoticeEvent::EndingSoon { auction, minutes } => format!("{kind}:{auction}:{minutes}"),
        NoticeEvent::SaleUpdate { sale, step } => format!("{kind}:{sale}:{step}"),
        NoticeEvent::PickupClaimed { pickup } | NoticeEvent::PickupCompleted { pickup } => {
            format!("{kind}:{pickup}")
        }
        NoticeEvent::BadgeAwarded { code } => format!("{kind}:{code}"),
    }
}

/// A user's choices: every kind, on or off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationSettings(BTreeMap<NotificationKind, bool>);

impl NotificationSettings {
    /// Settings from the kinds a user turned off (everything else is on).
    pub fn with_off(off: impl IntoIterator<Item = NotificationKind>) -> Self {
        let mut all: BTreeMap<_, _> = NotificationKind::ALL.iter().map(|k| (*k, true)).collect();
        for kind in off {
            all.insert(kind, false);
        }
        Self(all)
    }

    /// Whether `kind` is on.
    pub fn enabled(&self, kind: NotificationKind) -> bool {
        self.0.get(&kind).copied().unwrap_or(true)
    }

    /// Every kind with its choice, in [`NotificationKind::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (NotificationKind, bool)> + '_ {
        self.0.iter().map(|(k, on)| (*k, *on))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let codes: std::collections::HashSet<_> =
            NotificationKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), NotificationKind::ALL.len());
        for kind in NotificationKind::ALL {
            assert_eq!(NotificationKind::parse(kind.code()), Some(kind));
        }
        assert_eq!(NotificationKind::parse("Outbid"), None);
    }

    #[test]
    fn keys_name_the_event_not_the_moment() {
        let outbid = |by_seq| dedupe_key(&NoticeEvent::Outbid { auction: 7, by_seq });
        assert_eq!(outbid(3), "outbid:7:3");
        assert_ne!(outbid(3), outbid(4), "each time outbid is news");
        assert_eq!(
            dedupe_key(&NoticeEvent::EndingSoon {
                auction: 7,
                minutes: 10
            }),
            "ending_soon:7:10"
        );
        assert_ne!(
            dedupe_key(&NoticeEvent::Won { auction: 7 }),
            dedupe_key(&NoticeEvent::Sold { auction: 7 })
        );
        // A clock sells to many: each accept's sale is news of its own.
        let bought = |sale| dedupe_key(&NoticeEvent::BoughtUnits { auction: 7, sale });
        assert_eq!(bought(3), "won:7:3");
        assert_ne!(bought(3), bought(4));
        assert_ne!(
            bought(3),
            dedupe_key(&NoticeEvent::SoldUnits {
                auction: 7,
                sale: 3
            })
        );
        assert_eq!(
            dedupe_key(&NoticeEvent::BadgeAwarded { code: "first_win" }),
            "badge_awarded:first_win"
        );
        let longest = dedupe_key(&NoticeEvent::SaleUpdate {
            sale: i64::MAX,
            step: "auto_confirmed",
        });
        assert!(longest.len() <= 100, "{longest}");
    }

    #[test]
    fn settings_default_on() {
        let settings = NotificationSettings::with_off([NotificationKind::EndingSoon]);
        assert!(settings.enabled(NotificationKind::Outbid));
        assert!(!settings.enabled(NotificationKind::EndingSoon));
        assert_eq!(settings.iter().count(), NotificationKind::ALL.len());
    }
}
