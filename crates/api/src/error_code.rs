//! Every stable error code a client can see: the `error` of an HTTP error
//! body and the `code` of a WebSocket `system` frame that refuses something.
//! One list, so the two protocols cannot drift apart, and a test (in
//! `tests/api/platform.rs`) fails when a code is never produced or is
//! missing from `docs/errors.md`.

/// Declares the enum, its wire text and the list of all codes at once.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal, )*) => {
        /// A stable, machine-readable error code (`snake_case` on the wire).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$( ErrorCode::$variant, )*];

            /// The code as sent.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $wire, )*
                }
            }
        }
    };
}

error_codes! {
    // 400: the request itself.
    /// A field broke its rule (`field` names it).
    ValidationFailed = "validation_failed",
    /// A JSON field is missing, of the wrong type or out of range.
    InvalidField = "invalid_field",
    /// A query parameter is missing, of the wrong type or out of range.
    InvalidQuery = "invalid_query",
    /// The body (or a WebSocket frame) is not JSON.
    MalformedJson = "malformed_json",
    /// A multipart body could not be read.
    MalformedMultipart = "malformed_multipart",
    /// A multipart upload without its `file` part.
    MissingFile = "missing_file",
    /// The WebSocket upgrade request was not one.
    WebsocketHandshake = "websocket_handshake",
    /// An `Idempotency-Key` header that is empty, too long or not ASCII.
    InvalidIdempotencyKey = "invalid_idempotency_key",
    /// The request body could not be read (the connection failed mid-body).
    UnreadableBody = "unreadable_body",
    /// A malformed request that actix refused before any handler.
    BadRequest = "bad_request",
    // 401: who you are.
    /// No bearer token where one is needed.
    MissingToken = "missing_token",
    /// The token is not valid (signature, format, or its account is gone).
    InvalidToken = "invalid_token",
    /// The access token has expired: refresh it.
    TokenExpired = "token_expired",
    /// A refresh token where an access token is needed, or the reverse.
    WrongTokenType = "wrong_token_type",
    /// An unknown refresh token.
    InvalidRefreshToken = "invalid_refresh_token",
    /// The refresh token was revoked (logout, password change).
    RefreshTokenRevoked = "refresh_token_revoked",
    /// The refresh token has expired: log in again.
    RefreshTokenExpired = "refresh_token_expired",
    /// A retired refresh token came back: its whole family is revoked.
    RefreshTokenReused = "refresh_token_reused",
    /// The access token's session was ended, or never existed (logout,
    /// password or role change, a reused refresh token): log in again.
    SessionRevoked = "session_revoked",
    /// E-mail or password is wrong.
    InvalidCredentials = "invalid_credentials",
    /// The current password given to change it is wrong.
    WrongPassword = "wrong_password",
    /// Authentication required (a bare 401 from actix).
    Unauthorized = "unauthorized",
    // 403: what you may do.
    /// Signed in, but your role does not allow it.
    Forbidden = "forbidden",
    /// The account is banned: it cannot log in or refresh.
    AccountBanned = "account_banned",
    /// Not allowed on this object (not yours, not your turn).
    NotAllowed = "not_allowed",
    /// Only the auction's seller may do this.
    NotSeller = "not_seller",
    /// The handover code is not the buyer's.
    WrongHandoverCode = "wrong_handover_code",
    /// Only cafe and recycler accounts post pickups.
    NotCafeOrRecycler = "not_cafe_or_recycler",
    // 404.
    /// No such resource or route.
    NotFound = "not_found",
    /// No forecast has been made for this series yet.
    NoForecast = "no_forecast",
    /// The route exists, the method does not.
    MethodNotAllowed = "method_not_allowed",
    // 409: the state of things.
    /// The e-mail belongs to another account.
    EmailTaken = "email_taken",
    /// The nickname belongs to another account.
    NicknameTaken = "nickname_taken",
    /// An auction with bids can no longer be changed or cancelled.
    AuctionHasBids = "auction_has_bids",
    /// The auction is sold, unsold or cancelled.
    AuctionNotOpen = "auction_not_open",
    /// The auction's end has passed.
    AuctionEnded = "auction_ended",
    /// The auction opens at its `starts_at`; bids wait until then.
    AuctionNotStarted = "auction_not_started",
    /// Not a positive amount within the limits.
    InvalidAmount = "invalid_amount",
    /// Sellers cannot bid on their own auction.
    SellerCannotBid = "seller_cannot_bid",
    /// You already hold the highest bid.
    AlreadyLeading = "already_leading",
    /// Below the minimum next bid (`min_next_bid` says it).
    BidTooLow = "bid_too_low",
    /// Available points do not cover it (`available` says them).
    InsufficientBalance = "insufficient_balance",
    /// The auction has no buy-now price, or the bidding passed it.
    BuyNowUnavailable = "buy_now_unavailable",
    /// The price agreed to is no longer the price (`price` says it).
    PriceMoved = "price_moved",
    /// A maximum below the one standing or below the bid sent with it
    /// (`min_max` says the least accepted).
    MaxTooLow = "max_too_low",
    /// A clock auction has fewer units left than asked for (`remaining`
    /// says how many).
    UnitsUnavailable = "units_unavailable",
    /// A bid or buy-now on a clock (Dutch) auction, which sells by
    /// accepting its clock's price, or an accept on an auction that takes
    /// bids.
    WrongFormat = "wrong_format",
    /// A pickup cannot move that way from its state.
    IllegalTransition = "illegal_transition",
    /// The charge would pass the day's charge cap (the message says what is
    /// left today).
    DailyChargeLimit = "daily_charge_limit",
    /// A payout needs a bank account on the profile (`PATCH /users/me`).
    BankAccountRequired = "bank_account_required",
    /// The payout was already paid or rejected.
    PayoutNotPending = "payout_not_pending",
    /// Another account registered this business number.
    BusinessNumberTaken = "business_number_taken",
    /// The business registration is not waiting for a decision (decided
    /// already, or never given).
    VerificationNotPending = "verification_not_pending",
    /// The account watches as many auctions as it may.
    WatchlistFull = "watchlist_full",
    /// The measured weight needs no confirmation, or has it already.
    NothingToConfirm = "nothing_to_confirm",
    /// The sale is in a state where this step does not apply (`state`
    /// in the message).
    WrongSaleState = "wrong_sale_state",
    /// The other side of the sale still has time (the message says until
    /// when).
    DeadlineNotPassed = "deadline_not_passed",
    /// Too many wrong handover codes: the buyer confirms receipt instead.
    HandoverLocked = "handover_locked",
    /// The lot does not offer the delivery chosen (or the seller's step
    /// does not fit the one the buyer chose).
    DeliveryNotOffered = "delivery_not_offered",
    /// You rated this sale already.
    AlreadyRated = "already_rated",
    /// This server records no donations on chain.
    ChainOff = "chain_off",
    /// A request with this `Idempotency-Key` is still being decided.
    IdempotencyInProgress = "idempotency_in_progress",
    /// A repeated request's first answer, replayed.
    Replayed = "replayed",
    // 413, 415, 422, 429.
    /// The body is over the size limit.
    PayloadTooLarge = "payload_too_large",
    /// The body's content type is not the one expected.
    UnsupportedMediaType = "unsupported_media_type",
    /// The `Idempotency-Key` was used for a different request.
    IdempotencyKeyReused = "idempotency_key_reused",
    /// A forecast series is too short to fit.
    NotEnoughHistory = "not_enough_history",
    /// The upload is not an image we can read (not JPEG, PNG or WebP, or corrupt).
    InvalidImage = "invalid_image",
    /// The image has more pixels, or deeper colour, than we decode.
    ImageTooLarge = "image_too_large",
    /// A photo id that is not the caller's, unknown, or already shown by
    /// another auction.
    UnusablePhoto = "unusable_photo",
    /// Each field is valid alone but they disagree (a reserve below the
    /// start price) or the value is already out of date (a ban ending in
    /// the past); `field` names the one to change.
    InconsistentFields = "inconsistent_fields",
    /// The payment provider declined the charge.
    PaymentDeclined = "payment_declined",
    /// Too many attempts or frames; retry later.
    RateLimited = "rate_limited",
    /// Too many live WebSocket connections for the account or address.
    TooManyConnections = "too_many_connections",
    // 5xx.
    /// The database cannot be reached right now.
    DatabaseUnavailable = "database_unavailable",
    /// Too much work queued; retry shortly.
    Overloaded = "overloaded",
    /// The fish species model is not loaded.
    ModelUnavailable = "model_unavailable",
    /// The job queue cannot take the job.
    QueueUnavailable = "queue_unavailable",
    /// The payment provider cannot be reached; nothing was charged.
    PaymentUnavailable = "payment_unavailable",
    /// The chain node cannot be reached to read a proof.
    ChainUnavailable = "chain_unavailable",
    /// The photo store (directory or bucket) cannot be reached; nothing
    /// was stored.
    PhotoStoreUnavailable = "photo_store_unavailable",
    /// `/ready` found a dependency down.
    NotReady = "not_ready",
    /// A backing service is unavailable (a bare 503).
    ServiceUnavailable = "service_unavailable",
    /// An unexpected failure; the cause is logged, not shown.
    InternalError = "internal_error",
    /// Any other bare error status.
    HttpError = "http_error",
    // WebSocket `system` refusals (the connection stays open).
    /// A binary frame: only JSON text frames are read.
    BinaryNotSupported = "binary_not_supported",
    /// A frame without `event`.
    MissingEvent = "missing_event",
    /// An `event` the server does not know.
    UnknownEvent = "unknown_event",
    /// A known event with wrong or missing fields.
    InvalidFrame = "invalid_frame",
    /// `room` is not an auction id.
    InvalidRoom = "invalid_room",
    /// More rooms than one connection may join.
    TooManyRooms = "too_many_rooms",
    /// Chat or bid in a room not joined.
    NotJoined = "not_joined",
    /// Chat and bids need a signed-in connection.
    AuthRequired = "auth_required",
    /// A `#…` chat line that is not a number.
    NotANumber = "not_a_number",
    /// An empty chat message.
    EmptyMessage = "empty_message",
    /// A chat message over the length limit.
    MessageTooLong = "message_too_long",
    /// A frame's `ref` placed a different bid or buy-now on this auction
    /// before.
    RefReused = "ref_reused",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl From<sitga_auction::BidRejection> for ErrorCode {
    fn from(reason: sitga_auction::BidRejection) -> Self {
        use sitga_auction::BidRejection as R;
        match reason {
            R::InvalidAmount => ErrorCode::InvalidAmount,
            R::NotOpen => ErrorCode::AuctionNotOpen,
            R::Ended => ErrorCode::AuctionEnded,
            R::NotStarted => ErrorCode::AuctionNotStarted,
            R::SellerCannotBid => ErrorCode::SellerCannotBid,
            R::AlreadyLeading => ErrorCode::AlreadyLeading,
            R::TooLow { .. } => ErrorCode::BidTooLow,
            R::InsufficientBalance { .. } => ErrorCode::InsufficientBalance,
            R::BuyNowUnavailable => ErrorCode::BuyNowUnavailable,
            R::PriceMoved { .. } => ErrorCode::PriceMoved,
            R::MaxTooLow { .. } => ErrorCode::MaxTooLow,
            R::UnitsUnavailable { .. } => ErrorCode::UnitsUnavailable,
            R::WrongFormat => ErrorCode::WrongFormat,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_texts_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                text.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{text} is not snake_case"
            );
        }
    }

    /// The crate's source without the list that declares the codes.
    fn source_producing_codes() -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut text = String::new();
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let file = std::fs::read_to_string(&path).unwrap();
                    // Drop this file's declaration list and its tests.
                    let file = match file.split_once("error_codes! {") {
                        Some((before, after)) => {
                            let rest = after.split_once("\n}\n").map_or("", |(_, r)| r);
                            format!("{before}{rest}")
                        }
                        None => file,
                    };
                    let file = file.split("#[cfg(test)]").next().unwrap_or_default();
                    text.push_str(file);
                }
            }
        }
        text
    }

    #[test]
    fn every_code_is_produced_somewhere() {
        let source = source_producing_codes();
        let never: Vec<_> = ErrorCode::ALL
            .iter()
            .map(|code| format!("{code:?}"))
            .filter(|name| {
                // Only the full path counts: `Self::` in error.rs is
                // `ApiError`, whose variants share names with codes.
                !source.contains(&format!("ErrorCode::{name}"))
            })
            .collect();
        assert!(
            never.is_empty(),
            "codes nothing produces (remove them): {never:?}"
        );
    }

    #[test]
    fn docs_errors_md_lists_exactly_these_codes() {
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/errors.md"),
        )
        .unwrap();
        let documented: std::collections::BTreeSet<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split_once('`').map(|(code, _)| code))
            .collect();
        let declared: std::collections::BTreeSet<&str> =
            ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        let missing: Vec<_> = declared.difference(&documented).collect();
        let stale: Vec<_> = documented.difference(&declared).collect();
        assert!(
            missing.is_empty(),
            "codes missing from docs/errors.md: {missing:?}"
        );
        assert!(
            stale.is_empty(),
            "docs/errors.md lists codes that do not exist: {stale:?}"
        );
    }

    #[test]
    fn bid_refusals_keep_the_codes_the_domain_gives_them() {
        use sitga_auction::{BidRejection, Krw};
        for reason in [
            BidRejection::InvalidAmount,
            BidRejection::NotOpen,
            BidRejection::Ended,
            BidRejection::NotStarted,
            BidRejection::SellerCannotBid,
            BidRejection::AlreadyLeading,
            BidRejection::TooLow {
                min_next_bid: Krw::new(1),
            },
            BidRejection::InsufficientBalance {
                available: Krw::new(1),
            },
            BidRejection::BuyNowUnavailable,
            BidRejection::PriceMoved { price: Krw::new(1) },
            BidRejection::MaxTooLow {
                min_max: Krw::new(1),
            },
            BidRejection::UnitsUnavailable { remaining: 1 },
            BidRejection::WrongFormat,
        ] {
            assert_eq!(ErrorCode::from(reason).as_str(), reason.code());
        }
    }
}
