//! The chat-bid parser never panics, and what it calls a bid started with `#`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sitga_auction::{ChatLine, parse_chat_line};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse_chat_line(text) {
        ChatLine::Bid(_) | ChatLine::NotANumber => assert!(text.trim().starts_with('#')),
        ChatLine::Chat(line) => assert!(!line.starts_with('#') && !line.is_empty()),
        ChatLine::Empty => assert!(text.trim().is_empty()),
        ChatLine::TooLong => assert!(text.trim().chars().count() > sitga_auction::MAX_CHAT_CHARS),
    }
});
