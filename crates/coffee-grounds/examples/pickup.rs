//! The pickup rules alone: a cafe offers spent grounds, a recycler claims
//! the offer and completes it with the weight measured at collection; who
//! may do what is decided by one function, and the donation follows.
//!
//! `cargo run -p sitga-coffee-grounds --example pickup`

// An example prints, and stops at the first surprise.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use sitga_coffee_grounds::{
    Action, Actor, ActorRole, Grams, PickupKind, PickupSnapshot, PickupStatus, UserId, decide,
    donation, kind_for,
};

fn main() {
    let cafe = Actor {
        user_id: UserId::new(1),
        role: ActorRole::Cafe,
    };
    let recycler = Actor {
        user_id: UserId::new(2),
        role: ActorRole::Recycler,
    };
    let other_recycler = Actor {
        user_id: UserId::new(3),
        role: ActorRole::Recycler,
    };

    // A cafe posts supply; a recycler would post demand.
    assert_eq!(kind_for(cafe.role), Some(PickupKind::Supply));
    let posted = Grams::from_kg(12.5).unwrap();
    let mut offer = PickupSnapshot {
        kind: PickupKind::Supply,
        status: PickupStatus::Waiting,
        owner_id: cafe.user_id,
        collector_id: None,
    };
    println!("posted {} kg, {}", posted.kg(), offer.status.code());

    let claimed = decide(&offer, Action::Claim, recycler).unwrap();
    offer.status = claimed.status;
    offer.collector_id = claimed.collector_id;
    println!(
        "claimed by user {:?}: {}",
        offer.collector_id,
        offer.status.code()
    );

    // Only the collector may complete it; the cafe cannot claim its own.
    println!(
        "another recycler completing: {:?}",
        decide(&offer, Action::Complete, other_recycler).unwrap_err()
    );

    let done = decide(&offer, Action::Complete, recycler).unwrap();
    offer.status = done.status;
    let measured = Grams::from_kg(11.8).unwrap();
    let donated = donation(offer.status, posted, Some(measured)).unwrap();
    println!(
        "{}: donation of {} kg recorded",
        offer.status.code(),
        donated.kg()
    );
    assert_eq!(donated, measured);
    assert!(Grams::from_kg(0.05).is_err(), "under 0.1 kg is refused");
}
