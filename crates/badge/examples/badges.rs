//! The badge rules alone: what a cafe's figures earn, with the catalogue's
//! Korean and English names.
//!
//! `cargo run -p sitga-badge --example badges`

// An example prints.
#![allow(clippy::print_stdout)]

use sitga_badge::{Stats, earned, longest_streak};

fn main() {
    // Weeks (counted from any origin) with at least one completed pickup.
    let weeks = [100, 101, 102, 103, 110];
    let cafe = Stats {
        completed_donations: 12,
        lifetime_grams: 48_500,
        best_month_pickups: 6,
        longest_week_streak: longest_streak(&weeks),
        ..Stats::default()
    };
    for code in earned(&cafe) {
        let badge = code.badge();
        println!(
            "{:<28} {} / {} ({})",
            code.code(),
            badge.name_ko,
            badge.name_en,
            badge.rarity.code()
        );
    }
    assert_eq!(cafe.longest_week_streak, 4);
}
