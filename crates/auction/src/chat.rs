//! Chat lines in an auction room; a line starting with `#` is a bid.

use crate::money::Krw;

/// Longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 1_000;

/// What a chat line means.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ChatLine {
    /// Ordinary chat (trimmed).
    Chat(String),
    /// A bid of this amount (`#15000`, `# 15,000원`, `#１５０００` …). Amounts
    /// too large to represent come out as `Krw::MAX` and are refused by the
    /// bid rules as invalid.
    Bid(Krw),
    /// Starts with `#` but is not a number: answer "숫자값을 입력하세요".
    NotANumber,
    /// Nothing but white space.
    Empty,
    /// Over [`MAX_CHAT_CHARS`] characters.
    TooLong,
}

/// Reads one chat line.
///
/// ```
/// use sitga_auction::{ChatLine, Krw, parse_chat_line};
/// assert_eq!(parse_chat_line("#15000"), ChatLine::Bid(Krw::new(15_000)));
/// assert_eq!(parse_chat_line("# 15,000원"), ChatLine::Bid(Krw::new(15_000)));
/// assert_eq!(parse_chat_line("#１５０００"), ChatLine::Bid(Krw::new(15_000)));
/// assert_eq!(parse_chat_line("#hashtag"), ChatLine::NotANumber);
/// assert_eq!(parse_chat_line(" 안녕하세요 "), ChatLine::Chat("안녕하세요".into()));
/// ```
pub fn parse_chat_line(raw: &str) -> ChatLine {
    // Direction controls would let one line reverse how the next ones (the
    // other bidders' names and amounts) are displayed.
    let cleaned: String;
    let text = if raw.chars().any(is_bidi_control) {
        cleaned = raw.chars().filter(|c| !is_bidi_control(*c)).collect();
        cleaned.trim()
    } else {
        raw.trim()
    };
    if text.is_empty() {
        return ChatLine::Empty;
    }
    if text.chars().count() > MAX_CHAT_CHARS {
        return ChatLine::TooLong;
    }
    match text.strip_prefix('#') {
        Some(rest) => parse_amount(rest).map_or(ChatLine::NotANumber, ChatLine::Bid),
        None => ChatLine::Chat(text.to_owned()),
    }
}

/// The Unicode bidirectional formatting characters (embeddings, overrides,
/// isolates and the implicit marks).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

fn parse_amount(rest: &str) -> Option<Krw> {
    let rest = rest.trim();
    let rest = rest.strip_suffix('원').map_or(rest, str::trim_end);
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            // Full-width digits from Korean and Japanese keyboards.
            '\u{FF10}'..='\u{FF19}' => {
                digits.push(char::from(b'0' + (u32::from(c) - 0xFF10) as u8));
            }
            // Thousands separators; only between digits.
            ',' | '_' | '\u{FF0C}' if !digits.is_empty() => {}
            _ => return None,
        }
    }
    let last_is_digit = rest
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_digit() || ('\u{FF10}'..='\u{FF19}').contains(&c));
    if digits.is_empty() || !last_is_digit {
        return None;
    }
    Some(digits.parse::<i64>().map_or(Krw::MAX, Krw::new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_controls_are_stripped() {
        assert_eq!(
            parse_chat_line("\u{202E}gnihtemos\u{202C} 안녕"),
            ChatLine::Chat("gnihtemos 안녕".into())
        );
        assert_eq!(
            parse_chat_line("\u{2067}#15000\u{2069}"),
            ChatLine::Bid(Krw::new(15_000))
        );
        assert_eq!(parse_chat_line("\u{200F}\u{200E}"), ChatLine::Empty);
    }

    #[test]
    fn accepted_bid_forms() {
        for (line, amount) in [
            ("#15000", 15_000),
            ("# 15000", 15_000),
            ("#15,000", 15_000),
            ("#1_5000", 15_000),
            ("#１５０００", 15_000),
            ("#１５，０００", 15_000),
            ("#15000원", 15_000),
            ("#15,000 원", 15_000),
            ("  #20000  ", 20_000),
            ("#0", 0),
        ] {
            assert_eq!(
                parse_chat_line(line),
                ChatLine::Bid(Krw::new(amount)),
                "{line}"
            );
        }
    }

    #[test]
    fn not_numbers() {
        for line in [
            "#",
            "#abc",
            "#hashtag",
            "#-5",
            "#+500",
            "#15.5",
            "#1e5",
            "#0x10",
            "#,000",
            "#15,",
            "#15000원원",
            "#15 000",
            "#원",
        ] {
            assert_eq!(parse_chat_line(line), ChatLine::NotANumber, "{line}");
        }
    }

    #[test]
    fn huge_numbers_become_invalid_amounts_not_panics() {
        assert_eq!(
            parse_chat_line("#99999999999999999999999"),
            ChatLine::Bid(Krw::MAX)
        );
    }

    #[test]
    fn chat_limits() {
        assert_eq!(parse_chat_line("   "), ChatLine::Empty);
        assert_eq!(
            parse_chat_line(&"가".repeat(1_000)),
            ChatLine::Chat("가".repeat(1_000))
        );
        assert_eq!(parse_chat_line(&"가".repeat(1_001)), ChatLine::TooLong);
        assert_eq!(parse_chat_line("15000"), ChatLine::Chat("15000".into()));
    }
}
