//! The rules the API enforces, written into the OpenAPI document.
//!
//! Paperclip knows the types of fields, not their rules. Every rule a
//! handler or a domain parser enforces on one field on its own is stated
//! here, from the same constants the parsers use, so the document and the
//! API agree both ways: a request the document allows is not refused with
//! 400, and one it forbids is not accepted (schemathesis checks both).
//! Rules between fields or against the current state (a reserve below the
//! start price, a ban ending in the past) cannot be stated in a schema;
//! they answer 422 `inconsistent_fields` instead.
//!
//! Strings are trimmed before their length is checked, so text rules are
//! patterns: optional white space, then the text, whose first and last
//! characters are neither white space nor control characters.

use serde_json::{Map, Value, json};
use sitga_auction::{
    ADDRESS_LINE_MAX, AuctionStatus, DISPUTE_REASON_MAX, MAX_AMOUNT, MAX_COURIER_FEE,
    MAX_DISPUTE_PHOTOS, MAX_LENGTH_CM, MAX_WALLET_OPERATION, MAX_WEIGHT_G, PLACE_MAX, PayoutStatus,
    RATING_COMMENT_MAX, SALE_NAME_MAX, Storage,
};
use sitga_coffee_grounds::{MAX_GRAMS, MIN_GRAMS, PickupKind, PickupStatus};
use sitga_forecasting::{Horizon, MIN_HISTORY_DAYS, Window};
use sitga_persistence::audit::AuditAction;
use sitga_user::{Province, VerificationDecision, VerificationStatus, limits};

use crate::routes::admin::{MAX_ADJUSTMENT, REASON_MAX, REASON_MIN, REFERENCE_MAX};
use crate::routes::auctions::{
    DESCRIPTION_MAX, MAX_PHOTOS, PHOTO_URL_MAX, SEARCH_MAX, SPECIES_MAX, TITLE_MAX,
};
use crate::routes::dto::MAX_PER_PAGE;
use crate::routes::fish::MAX_TOP_K;
use crate::routes::monitor::CHAIN_SAMPLES_MAX;

/// Unicode white space (what `str::trim` removes).
const SPACE: &str = r"[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";
/// Neither white space nor a control character: a trimmed text's ends.
const EDGE: &str = r"[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";
/// Inside a one-line field: anything but control characters.
const LINE: &str = r"[^\x00-\x1F\x7F-\x9F]";
/// Inside prose (a description): tabs and line breaks too.
const PROSE: &str = r"[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]";

/// A text of `min..=max` characters after trimming, made of `inner`.
fn trimmed(min: usize, max: usize, inner: &str) -> Value {
    let core = match min {
        0 => format!("(?:{EDGE}(?:{inner}{{0,{}}}{EDGE})?)?", max - 2),
        1 => format!("{EDGE}(?:{inner}{{0,{}}}{EDGE})?", max - 2),
        _ => format!("{EDGE}{inner}{{{},{}}}{EDGE}", min - 2, max - 2),
    };
    json!({ "type": "string", "pattern": format!("^{SPACE}*{core}{SPACE}*$") })
}

fn line(min: usize, max: usize) -> Value {
    trimmed(min, max, LINE)
}

fn prose(min: usize, max: usize) -> Value {
    trimmed(min, max, PROSE)
}

fn range(min: i64, max: i64) -> Value {
    json!({ "minimum": min, "maximum": max })
}

fn one_of<'a>(values: impl IntoIterator<Item = &'a str>) -> Value {
    json!({ "enum": values.into_iter().collect::<Vec<_>>() })
}

/// Every spelling `Province::parse` takes: code, Korean and English name.
fn provinces() -> Value {
    one_of(
        Province::ALL
            .iter()
            .flat_map(|p| [p.code(), p.name_ko(), p.name_en()]),
    )
}

fn nickname() -> Value {
    // A custom format: its rules (letters and digits of one script family,
    // no look-alikes) are more than a pattern can say; the fuzzing hooks
    // generate valid ones.
    json!({
        "format": "nickname",
        "minLength": limits::NICKNAME_MIN,
        "maxLength": limits::NICKNAME_MAX,
    })
}

/// A business registration number: a custom format, since its check digit
/// is more than a pattern can say; the fuzzing hooks generate valid ones.
fn business_number() -> Value {
    json!({
        "format": "business-number",
        "pattern": format!("^{SPACE}*(?:[0-9]{{10}}|[0-9]{{3}}-[0-9]{{2}}-[0-9]{{5}}){SPACE}*$"),
    })
}

fn email() -> Value {
    json!({ "format": "email", "maxLength": limits::EMAIL_MAX })
}

/// Any characters but NUL (not trimmed: spaces count).
fn password() -> Value {
    json!({ "pattern": format!("^[^\\x00]{{{},{}}}$", limits::PASSWORD_MIN, limits::PASSWORD_MAX) })
}

/// Korean phone numbers as people write them: `010-1234-5678`, `+8210…`.
fn phone() -> Value {
    json!({ "pattern": r"^\+?[0-9]{2,4}-?[0-9]{3,4}-?[0-9]{4}$" })
}

fn kilograms() -> Value {
    json!({
        "minimum": MIN_GRAMS as f64 / 1_000.0,
        "maximum": MAX_GRAMS as f64 / 1_000.0,
        "multipleOf": 0.1,
    })
}

fn won(max: i64) -> Value {
    range(1, max)
}

/// `(schema, property, rule)`: merged into `components/schemas`.
fn property_rules() -> Vec<(&'static str, &'static str, Value)> {
    let max_amount = MAX_AMOUNT.get();
    let reason = || line(REASON_MIN, REASON_MAX);
    let duration = range(
        sitga_auction::MIN_DURATION_MINUTES,
        sitga_auction::MAX_DURATION_MINUTES,
    );
    let auction_text = [
        ("title", line(1, TITLE_MAX)),
        ("description", prose(0, DESCRIPTION_MAX)),
        ("species", line(1, SPECIES_MAX)),
        (
            "photo_url",
            // Letters-first host labels: a numeric last label would be
            // parsed (and refused) as an IPv4 address.
            json!({ "pattern": format!(
                r"^https?://[a-z][a-z0-9-]{{0,62}}(?:\.[a-z][a-z0-9-]{{0,62}}){{0,4}}(?:/[!-~]{{0,{}}})?$",
                PHOTO_URL_MAX - 340
            ) }),
        ),
        ("start_price", won(max_amount)),
        ("min_increment", won(max_amount)),
        ("reserve_price", won(max_amount)),
        ("buy_now_price", won(max_amount)),
    ];
    let mut rules = Vec::new();
    for schema in ["CreateAuctionRequest", "UpdateAuctionRequest"] {
        for (property, rule) in auction_text.iter().cloned() {
            rules.push((schema, property, rule));
        }
    }
    rules.push(("CreateAuctionRequest", "duration_minutes", duration));
    rules.extend([
        (
            "CreateAuctionRequest",
            "format",
            one_of(["english", "dutch"]),
        ),
        ("CreateAuctionRequest", "floor_price", won(max_amount)),
        ("CreateAuctionRequest", "step", won(max_amount)),
        (
            "CreateAuctionRequest",
            "step_seconds",
            range(1, sitga_auction::MAX_STEP_SECONDS),
        ),
        (
            "CreateAuctionRequest",
            "quantity",
            range(1, sitga_auction::MAX_QUANTITY),
        ),
        (
            "CreateAuctionRequest",
            "pause_seconds",
            range(0, sitga_auction::MAX_PAUSE_SECONDS),
        ),
        // The example clock auction's (`example_id`) opening price.
        (
            "AcceptRequest",
            "units",
            json!({ "minimum": 1, "maximum": sitga_auction::MAX_QUANTITY, "example": 2 }),
        ),
        (
            "AcceptRequest",
            "price",
            json!({ "minimum": 1, "maximum": max_amount, "example": 30_000 }),
        ),
    ]);
    rules.extend([
        ("CreateAuctionRequest", "weight_g", range(1, MAX_WEIGHT_G)),
        ("CreateAuctionRequest", "length_cm", range(1, MAX_LENGTH_CM)),
        ("CreateAuctionRequest", "catch_area", line(1, PLACE_MAX)),
        ("CreateAuctionRequest", "catch_province", provinces()),
        (
            "CreateAuctionRequest",
            "storage",
            one_of(Storage::ALL.iter().map(|s| s.code())),
        ),
        // The delivery options are written inline (paperclip inlines
        // nested structs): closed like every body, and offering pickup,
        // courier or both (`{}` or only nulls is refused).
        (
            "CreateAuctionRequest",
            "delivery",
            json!({
                "additionalProperties": false,
                "anyOf": [
                    { "required": ["pickup"], "properties": { "pickup": { "type": "object" } } },
                    { "required": ["courier"], "properties": { "courier": { "type": "object" } } },
                ],
            }),
        ),
        (
            "CreateAuctionRequest",
            "delivery/properties/pickup",
            json!({ "additionalProperties": false }),
        ),
        (
            "CreateAuctionRequest",
            "delivery/properties/pickup/properties/province",
            provinces(),
        ),
        (
            "CreateAuctionRequest",
            "delivery/properties/pickup/properties/place",
            line(1, PLACE_MAX),
        ),
        (
            "CreateAuctionRequest",
            "delivery/properties/courier",
            json!({ "additionalProperties": false }),
        ),
        (
            "CreateAuctionRequest",
            "delivery/properties/courier/properties/fee",
            range(0, MAX_COURIER_FEE),
        ),
    ]);
    rules.push((
        "CreateAuctionRequest",
        "photo_ids",
        json!({
            "minItems": 1,
            "maxItems": MAX_PHOTOS,
            "uniqueItems": true,
            "items": { "type": "string", "pattern": sitga_photos::PHOTO_ID_PATTERN },
        }),
    ));
    rules.extend([
        // Above the start price of the example auction (`example_id`).
        (
            "BidRequest",
            "amount",
            json!({ "minimum": 1, "maximum": max_amount, "example": 50_000 }),
        ),
        (
            "BidRequest",
            "max_amount",
            json!({ "minimum": 1, "maximum": max_amount, "example": 80_000 }),
        ),
        // The buy-now price of the example auction (`example_id`).
        (
            "BuyNowRequest",
            "price",
            json!({ "minimum": 1, "maximum": max_amount, "example": 30_000 }),
        ),
        ("AmountRequest", "amount", won(MAX_WALLET_OPERATION.get())),
        (
            "AdjustRequest",
            "amount",
            json!({ "minimum": -MAX_ADJUSTMENT, "maximum": MAX_ADJUSTMENT, "not": { "enum": [0] } }),
        ),
        ("AdjustRequest", "reason", reason()),
        ("BanRequest", "reason", reason()),
        ("ReasonRequest", "reason", reason()),
        ("PaidRequest", "reference", line(1, REFERENCE_MAX)),
        ("SignupRequest", "email", email()),
        ("SignupRequest", "password", password()),
        ("SignupRequest", "nickname", nickname()),
        ("SignupRequest", "name", line(1, limits::NAME_MAX)),
        ("SignupRequest", "phone", phone()),
        ("SignupRequest", "address", line(1, limits::ADDRESS_MAX)),
        ("SignupRequest", "province", provinces()),
        ("SignupRequest", "business_number", business_number()),
        (
            "SignupRequest",
            "business_name",
            line(1, limits::BUSINESS_NAME_MAX),
        ),
        ("UpdateMeRequest", "business_number", business_number()),
        (
            "UpdateMeRequest",
            "business_name",
            line(1, limits::BUSINESS_NAME_MAX),
        ),
        (
            "DecisionRequest",
            "decision",
            one_of(VerificationDecision::ALL.iter().map(|d| d.code())),
        ),
        ("DecisionRequest", "reason", reason()),
        ("UpdateMeRequest", "nickname", nickname()),
        ("UpdateMeRequest", "name", line(1, limits::NAME_MAX)),
        ("UpdateMeRequest", "phone", phone()),
        ("UpdateMeRequest", "address", line(1, limits::ADDRESS_MAX)),
        ("UpdateMeRequest", "province", provinces()),
        (
            "UpdateMeRequest",
            "bank_account",
            line(1, limits::BANK_ACCOUNT_MAX),
        ),
        ("ChangePasswordRequest", "new", password()),
        ("CreatePickupRequest", "amount_kg", kilograms()),
        ("CompleteRequest", "measured_kg", kilograms()),
        ("DetailsRequest", "delivery", one_of(["pickup", "courier"])),
        (
            "DetailsRequest",
            "address",
            json!({ "additionalProperties": false }),
        ),
        (
            "DetailsRequest",
            "address/properties/recipient",
            line(1, SALE_NAME_MAX),
        ),
        // Hyphens and spaces anywhere are dropped; 9–11 digits from a 0.
        (
            "DetailsRequest",
            "address/properties/phone",
            json!({ "pattern": "^[- ]*0(?:[- ]*[0-9]){8,10}[- ]*$" }),
        ),
        (
            "DetailsRequest",
            "address/properties/postcode",
            json!({ "pattern": format!("^{SPACE}*[0-9]{{5}}{SPACE}*$") }),
        ),
        (
            "DetailsRequest",
            "address/properties/line1",
            line(1, ADDRESS_LINE_MAX),
        ),
        (
            "DetailsRequest",
            "address/properties/line2",
            line(0, ADDRESS_LINE_MAX),
        ),
        ("ShipRequest", "courier", line(1, SALE_NAME_MAX)),
        (
            "ShipRequest",
            "tracking_number",
            json!({ "pattern": format!("^{SPACE}*[A-Za-z0-9-]{{6,30}}{SPACE}*$") }),
        ),
        (
            "HandoverRequest",
            "code",
            json!({ "pattern": format!("^{SPACE}*[0-9]{{6}}{SPACE}*$") }),
        ),
        ("DisputeRequest", "reason", prose(1, DISPUTE_REASON_MAX)),
        (
            "DisputeRequest",
            "photo_ids",
            json!({
                "maxItems": MAX_DISPUTE_PHOTOS,
                "uniqueItems": true,
                "items": { "type": "string", "pattern": sitga_photos::PHOTO_ID_PATTERN },
            }),
        ),
        (
            "ReadRequest",
            "ids",
            json!({
                "maxItems": crate::routes::notifications::MAX_READ_IDS,
                "items": { "type": "integer", "format": "int64" },
            }),
        ),
        ("RatingRequest", "stars", range(1, 5)),
        ("RatingRequest", "comment", prose(0, RATING_COMMENT_MAX)),
        (
            "ResolveRequest",
            "outcome",
            one_of(["refund", "release", "split"]),
        ),
        ("ResolveRequest", "buyer_krw", won(max_amount)),
        (
            "RetrainRequest",
            "horizon_days",
            range(1, i64::from(Horizon::MAX)),
        ),
        (
            "RetrainRequest",
            "window_days",
            range(MIN_HISTORY_DAYS as i64, i64::from(Window::MAX)),
        ),
    ]);
    rules
}

/// One alternative of a body whose fields depend on each other: the
/// properties it leaves out, the ones it requires, and narrower rules for
/// some (merged over the property's own).
struct Alternative {
    drop: &'static [&'static str],
    require: &'static [&'static str],
    narrow: Vec<(&'static str, Value)>,
}

const BUSINESS: &[&str] = &["business_number", "business_name"];

/// Rules between fields that a schema can say as alternatives (`oneOf`,
/// each closed; the body must match exactly one), so that generated bodies
/// are the ones the API takes: a business registration comes whole, on a
/// cafe or recycler account; a rejection gives its reason.
fn alternatives() -> Vec<(&'static str, Vec<Alternative>)> {
    let business_kinds = || json!({ "enum": ["cafe", "recycler"], "nullable": false });
    // Present and not null (`nullable` alone says nothing without a type).
    let given = || json!({ "type": "string" });
    vec![
        (
            "SignupRequest",
            vec![
                Alternative {
                    drop: BUSINESS,
                    require: &[],
                    narrow: vec![("account_type", json!({ "enum": ["member", null] }))],
                },
                Alternative {
                    drop: &[],
                    require: &["account_type", "business_number", "business_name"],
                    narrow: vec![
                        ("account_type", business_kinds()),
                        ("business_number", given()),
                        ("business_name", given()),
                    ],
                },
                Alternative {
                    drop: BUSINESS,
                    require: &["account_type"],
                    narrow: vec![("account_type", business_kinds())],
                },
            ],
        ),
        (
            "UpdateMeRequest",
            vec![
                Alternative {
                    drop: BUSINESS,
                    require: &[],
                    narrow: vec![],
                },
                Alternative {
                    drop: &[],
                    require: BUSINESS,
                    narrow: vec![("business_number", given()), ("business_name", given())],
                },
            ],
        ),
        (
            "DetailsRequest",
            vec![
                Alternative {
                    drop: &["address"],
                    require: &[],
                    narrow: vec![("delivery", json!({ "enum": ["pickup"] }))],
                },
                Alternative {
                    drop: &[],
                    require: &["address"],
                    narrow: vec![
                        ("delivery", json!({ "enum": ["courier"] })),
                        ("address", json!({ "type": "object" })),
                    ],
                },
            ],
        ),
        (
            "ShipRequest",
            vec![
                Alternative {
                    drop: &["courier", "tracking_number"],
                    require: &[],
                    narrow: vec![],
                },
                Alternative {
                    drop: &[],
                    require: &["courier", "tracking_number"],
                    narrow: vec![("courier", given()), ("tracking_number", given())],
                },
            ],
        ),
        (
            "ResolveRequest",
            vec![
                Alternative {
                    drop: &["buyer_krw"],
                    require: &[],
                    narrow: vec![("outcome", json!({ "enum": ["refund", "release"] }))],
                },
                Alternative {
                    drop: &[],
                    require: &["buyer_krw"],
                    narrow: vec![
                        ("outcome", json!({ "enum": ["split"] })),
                        ("buyer_krw", json!({ "type": "integer" })),
                    ],
                },
            ],
        ),
        (
            "ReadRequest",
            vec![
                Alternative {
                    drop: &["all"],
                    require: &["ids"],
                    narrow: vec![("ids", json!({ "type": "array" }))],
                },
                Alternative {
                    drop: &["ids"],
                    require: &["all"],
                    narrow: vec![("all", json!({ "enum": [true] }))],
                },
            ],
        ),
        (
            "BidRequest",
            vec![
                Alternative {
                    drop: &["max_amount"],
                    require: &["amount"],
                    narrow: vec![("amount", json!({ "type": "integer" }))],
                },
                Alternative {
                    drop: &["amount"],
                    require: &["max_amount"],
                    narrow: vec![("max_amount", json!({ "type": "integer" }))],
                },
                Alternative {
                    drop: &[],
                    require: &["amount", "max_amount"],
                    narrow: vec![
                        ("amount", json!({ "type": "integer" })),
                        ("max_amount", json!({ "type": "integer" })),
                    ],
                },
            ],
        ),
        (
            "DecisionRequest",
            vec![
                Alternative {
                    drop: &[],
                    require: &[],
                    narrow: vec![("decision", json!({ "enum": ["verified"] }))],
                },
                Alternative {
                    drop: &[],
                    require: &["reason"],
                    narrow: vec![
                        ("decision", json!({ "enum": ["rejected"] })),
                        ("reason", given()),
                    ],
                },
            ],
        ),
    ]
}

/// Adds each body's [`alternatives`] as a `oneOf` of closed objects beside
/// its own properties (both apply).
fn add_alternatives(schemas: &mut Map<String, Value>) {
    for (name, alternatives) in alternatives() {
        let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) else {
            continue;
        };
        let properties: Vec<String> = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let base_required: Vec<Value> = schema
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let one_of: Vec<Value> = alternatives
            .iter()
            .map(|alt| {
                let mut kept = Map::new();
                for property in properties
                    .iter()
                    .filter(|p| !alt.drop.contains(&p.as_str()))
                {
                    let narrowed = alt
                        .narrow
                        .iter()
                        .find(|(n, _)| n == property)
                        .map_or_else(|| json!({}), |(_, rule)| rule.clone());
                    kept.insert(property.clone(), narrowed);
                }
                let mut required = base_required.clone();
                required.extend(alt.require.iter().map(|r| json!(r)));
                json!({
                    "type": "object",
                    "properties": kept,
                    "required": required,
                    "additionalProperties": false,
                })
            })
            .collect();
        schema.insert("oneOf".into(), Value::Array(one_of));
    }
}

/// `(parameter, rule)`: merged into every query or path parameter of that
/// name.
fn parameter_rules() -> Vec<(&'static str, Value)> {
    let statuses = |codes: Vec<&'static str>| one_of(codes);
    vec![
        ("page", range(1, i64::from(u32::MAX))),
        ("per_page", range(1, i64::from(MAX_PER_PAGE))),
        ("limit", range(1, i64::from(CHAIN_SAMPLES_MAX))),
        ("k", range(1, MAX_TOP_K as i64)),
        ("province", provinces()),
        (
            "month",
            json!({ "pattern": r"^(?:20[0-9]{2}|2100)-(?:0[1-9]|1[0-2])$" }),
        ),
        ("kind", one_of(PickupKind::ALL.iter().map(|k| k.code()))),
        (
            "size",
            one_of(sitga_photos::Size::ALL.iter().map(|s| s.as_str())),
        ),
        ("type", one_of(["cafe", "recycler"])),
        ("period", one_of(["month", "all"])),
        ("sort", one_of(["newest", "ending_soon"])),
        ("q", line(0, SEARCH_MAX)),
        ("email", email()),
        ("nickname", nickname()),
        ("action", one_of(AuditAction::ALL.iter().map(|a| a.code()))),
        (
            "status",
            statuses(
                AuctionStatus::ALL
                    .iter()
                    .map(|s| s.code())
                    .chain(["all"])
                    .collect(),
            ),
        ),
    ]
}

/// Example ids, one per operation that acts on an object. They are the
/// objects `scripts/smoke.sh` prepares for the fuzzing pass (the cafe's
/// first auctions and pickups, its two payouts, the recycler's account), so
/// every such operation is tried once on an object it can act on; each
/// operation has its own, so cancelling one does not spoil another's.
fn example_id(path: &str, method: &str) -> Option<i64> {
    Some(match (method, path.trim_start_matches("/api/v1")) {
        ("get", "/auctions/{id}" | "/auctions/{id}/bids") => 3,
        ("patch", "/auctions/{id}") => 4,
        ("post", "/auctions/{id}/bids") => 3,
        ("post", "/auctions/{id}/cancel") => 5,
        ("post", "/auctions/{id}/close") => 6,
        // The one auction with a buy-now price (30,000 KRW).
        ("post", "/auctions/{id}/buy-now") => 201,
        // The clock auction of 10,000 boxes at 30,000 KRW for an hour.
        ("post", "/auctions/{id}/accept") => 202,
        ("put" | "delete", "/me/watchlist/{auction_id}") => 3,
        ("post", "/admin/auctions/{id}/remove") => 7,
        ("get", "/pickups/{id}") => 1,
        ("post", "/pickups/{id}/complete") => 2,
        ("post", "/pickups/{id}/claim") => 40,
        ("post", "/pickups/{id}/cancel") => 50,
        ("post", "/pickups/{id}/confirm-weight") => 3,
        ("get", "/donations/{id}/proof") => 2,
        // The pending business among the fuzzing accounts.
        ("post", "/admin/verifications/{user_id}") => 6,
        ("post", "/admin/payouts/{id}/paid") => 1,
        // The sales `scripts/smoke.sh` leaves in each state: the cafe
        // sold, the recycler bought.
        ("post", "/sales/{sale_id}/details") => 1,
        ("post", "/sales/{sale_id}/ship") => 2,
        ("post", "/sales/{sale_id}/handover") => 3,
        ("post", "/sales/{sale_id}/confirm") => 4,
        ("post", "/sales/{sale_id}/cancel") => 5,
        ("post", "/sales/{sale_id}/dispute") => 6,
        ("get", "/sales/{sale_id}") | ("post", "/sales/{sale_id}/rating") => 7,
        ("post", "/admin/disputes/{sale_id}/resolve") => 8,
        ("post", "/admin/payouts/{id}/reject") => 2,
        (_, path) if path.starts_with("/admin/users/{id}/") => 2,
        _ => return None,
    })
}

/// The first demo photo's id (`sitga demo-data` gives it this one).
pub const DEMO_PHOTO_ID: &str = "dec0de00000000000000000000000001";

/// Status parameters whose values differ by operation.
fn status_rule(path: &str) -> Option<Value> {
    if path.starts_with("/api/v1/admin/payouts") {
        return Some(one_of(PayoutStatus::ALL.iter().map(|s| s.code())));
    }
    if path.starts_with("/api/v1/monitor/pickups") {
        return Some(one_of(PickupStatus::ALL.iter().map(|s| s.code())));
    }
    if path.starts_with("/api/v1/admin/verifications") {
        return Some(one_of(
            VerificationStatus::ALL
                .iter()
                .filter(|s| **s != VerificationStatus::Unsubmitted)
                .map(|s| s.code()),
        ));
    }
    None
}

/// OpenAPI 3.0: a nullable property with an `enum` takes `null` only if
/// the enum lists it.
fn null_in_nullable_enums(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true))
                && let Some(values) = map.get_mut("enum").and_then(Value::as_array_mut)
                && !values.contains(&Value::Null)
            {
                values.push(Value::Null);
            }
            map.values_mut().for_each(null_in_nullable_enums);
        }
        Value::Array(items) => items.iter_mut().for_each(null_in_nullable_enums),
        _ => {}
    }
}

fn merge(target: &mut Value, rule: &Value) {
    if let (Some(target), Some(rule)) = (target.as_object_mut(), rule.as_object()) {
        for (key, value) in rule {
            target.insert(key.clone(), value.clone());
        }
    }
}

/// Writes every rule into `spec`, and closes every request body (the API
/// refuses unknown fields).
pub fn apply(spec: &mut Value) {
    // Every body schema, by name (JSON) or inline (multipart), is closed.
    let mut body_schemas: Vec<String> = Vec::new();
    if let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) {
        for operation in paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(Map::values_mut)
        {
            let Some(content) = operation
                .pointer_mut("/requestBody/content")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            for media in content.values_mut() {
                let Some(schema) = media.get_mut("schema").and_then(Value::as_object_mut) else {
                    continue;
                };
                match schema.get("$ref").and_then(Value::as_str) {
                    Some(reference) => {
                        body_schemas.extend(reference.rsplit('/').next().map(str::to_owned))
                    }
                    None => {
                        schema.insert("additionalProperties".into(), Value::Bool(false));
                    }
                }
            }
        }
    }
    if let Some(schemas) = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for name in &body_schemas {
            if let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) {
                schema.insert("additionalProperties".into(), Value::Bool(false));
            }
        }
        for (schema, property, rule) in property_rules() {
            if let Some(target) = schemas
                .get_mut(schema)
                .and_then(|s| s.pointer_mut(&format!("/properties/{property}")))
            {
                merge(target, &rule);
            }
        }
        add_alternatives(schemas);
    }
    let rules = parameter_rules();
    null_in_nullable_enums(spec);
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(operations) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in operations.iter_mut() {
            // Every body the API reads is required.
            if let Some(body) = operation
                .get_mut("requestBody")
                .and_then(Value::as_object_mut)
            {
                body.insert("required".into(), Value::Bool(true));
            }
            let Some(parameters) = operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for parameter in parameters {
                if parameter["in"] == "header" {
                    continue;
                }
                let name = parameter["name"].as_str().unwrap_or_default().to_owned();
                let integer_id = parameter["in"] == "path"
                    && parameter.pointer("/schema/type") == Some(&json!("integer"));
                let rule = match (name.as_str(), status_rule(path)) {
                    ("status", Some(rule)) => Some(rule),
                    // Photo ids are strings; the example is the first demo
                    // photo (`scripts/smoke.sh` loads the demo data).
                    ("id", _) if path.starts_with("/api/v1/photos/") => Some(json!({
                        "pattern": sitga_photos::PHOTO_ID_PATTERN,
                        "example": DEMO_PHOTO_ID,
                    })),
                    // Ids start at 1 (a 0 or a negative id is never found).
                    ("id" | "user_id" | "auction_id" | "sale_id", _) if integer_id => {
                        Some(match example_id(path, method) {
                            Some(id) => json!({ "minimum": 1, "example": id }),
                            None => json!({ "minimum": 1 }),
                        })
                    }
                    _ => rules
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, r)| r.clone()),
                };
                if let (Some(rule), Some(schema)) = (rule, parameter.get_mut("schema")) {
                    merge(schema, &rule);
                }
            }
        }
    }
}

/// An operation: `(path, method)`.
type Operation = (&'static str, &'static str);

/// Every operation on one sale.
const SALE_STEPS: &[Operation] = &[
    ("/api/v1/sales/{sale_id}", "get"),
    ("/api/v1/sales/{sale_id}/details", "post"),
    ("/api/v1/sales/{sale_id}/ship", "post"),
    ("/api/v1/sales/{sale_id}/confirm", "post"),
    ("/api/v1/sales/{sale_id}/handover", "post"),
    ("/api/v1/sales/{sale_id}/cancel", "post"),
    ("/api/v1/sales/{sale_id}/dispute", "post"),
    ("/api/v1/sales/{sale_id}/rating", "post"),
    ("/api/v1/admin/disputes/{sale_id}/resolve", "post"),
];

/// `(path, method, status, operations on what it created)`: OpenAPI links,
/// so a client (and the fuzzer) can follow a created id.
const LINKS: &[(&str, &str, &str, &[Operation])] = &[
    (
        "/api/v1/auctions",
        "post",
        "201",
        &[
            ("/api/v1/auctions/{id}", "get"),
            ("/api/v1/auctions/{id}", "patch"),
            ("/api/v1/auctions/{id}/bids", "get"),
            ("/api/v1/auctions/{id}/bids", "post"),
            ("/api/v1/auctions/{id}/buy-now", "post"),
            ("/api/v1/auctions/{id}/cancel", "post"),
            ("/api/v1/auctions/{id}/close", "post"),
            ("/api/v1/admin/auctions/{id}/remove", "post"),
        ],
    ),
    (
        "/api/v1/pickups",
        "post",
        "201",
        &[
            ("/api/v1/pickups/{id}", "get"),
            ("/api/v1/pickups/{id}/claim", "post"),
            ("/api/v1/pickups/{id}/complete", "post"),
            ("/api/v1/pickups/{id}/cancel", "post"),
        ],
    ),
    (
        "/api/v1/pickups/{id}/claim",
        "post",
        "200",
        &[("/api/v1/pickups/{id}/complete", "post")],
    ),
    (
        "/api/v1/pickups/{id}/complete",
        "post",
        "200",
        &[
            ("/api/v1/pickups/{id}/confirm-weight", "post"),
            ("/api/v1/donations/{id}/proof", "get"),
        ],
    ),
    (
        "/api/v1/forecasts/retrain",
        "post",
        "202",
        &[("/api/v1/forecasts/jobs/{id}", "get")],
    ),
    (
        "/api/v1/me/balance/withdraw",
        "post",
        "200",
        &[
            ("/api/v1/admin/payouts/{id}/paid", "post"),
            ("/api/v1/admin/payouts/{id}/reject", "post"),
        ],
    ),
    // A sale's every answer names it: each step leads to the next ones.
    ("/api/v1/sales/{sale_id}", "get", "200", SALE_STEPS),
    ("/api/v1/sales/{sale_id}/details", "post", "200", SALE_STEPS),
    ("/api/v1/sales/{sale_id}/ship", "post", "200", SALE_STEPS),
    ("/api/v1/sales/{sale_id}/cancel", "post", "200", SALE_STEPS),
    ("/api/v1/sales/{sale_id}/dispute", "post", "200", SALE_STEPS),
    ("/api/v1/sales/{sale_id}/confirm", "post", "200", SALE_STEPS),
    (
        "/api/v1/sales/{sale_id}/handover",
        "post",
        "200",
        SALE_STEPS,
    ),
    (
        "/api/v1/auth/signup",
        "post",
        "201",
        &[
            ("/api/v1/admin/users/{id}/adjust", "post"),
            ("/api/v1/admin/users/{id}/ledger", "get"),
            ("/api/v1/admin/users/{id}/ban", "post"),
            ("/api/v1/admin/users/{id}/unban", "post"),
        ],
    ),
];

/// Adds [`LINKS`] to the created responses (the created object's `id`, or
/// the signed-up user's `user.id`).
pub fn add_links(spec: &mut Value) {
    for (path, method, status, targets) in LINKS {
        let id = if *path == "/api/v1/auth/signup" {
            "$response.body#/user/id"
        } else {
            "$response.body#/id"
        };
        let links: Map<String, Value> = targets
            .iter()
            .filter(|(target, target_method)| spec["paths"][target][target_method].is_object())
            .map(|(target, target_method)| {
                let name = format!(
                    "{}{}",
                    target_method,
                    target
                        .trim_start_matches("/api/v1")
                        .replace("{id}", "Id")
                        .replace("{sale_id}", "SaleId")
                        .split('/')
                        .map(|part| {
                            let mut chars = part.chars();
                            chars
                                .next()
                                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                                .unwrap_or_default()
                        })
                        .collect::<String>()
                );
                let reference = format!(
                    "#/paths/{}/{target_method}",
                    target.replace('~', "~0").replace('/', "~1")
                );
                // Sales name their path parameter `sale_id`.
                let parameter = if target.contains("{sale_id}") {
                    "path.sale_id"
                } else {
                    "path.id"
                };
                (
                    name,
                    json!({ "operationRef": reference, "parameters": { parameter: id } }),
                )
            })
            .collect();
        if let Some(response) = spec
            .pointer_mut(&format!(
                "/paths/{}/{method}/responses/{status}",
                path.replace('~', "~0").replace('/', "~1")
            ))
            .and_then(Value::as_object_mut)
        {
            response.insert("links".into(), Value::Object(links));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rule whose schema, property or parameter was renamed would
    /// silently stop applying: each must land somewhere.
    #[test]
    fn every_rule_lands_on_the_document() {
        let spec = crate::openapi::spec();
        for (schema, property, rule) in property_rules() {
            let target = spec
                .pointer(&format!(
                    "/components/schemas/{schema}/properties/{property}"
                ))
                .unwrap_or_else(|| panic!("{schema}.{property} is not in the document"));
            for key in rule.as_object().unwrap().keys() {
                assert!(
                    target.get(key).is_some(),
                    "{schema}.{property}: {key} missing"
                );
            }
        }
        let parameters: Vec<&str> = spec["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .filter_map(|op| op["parameters"].as_array())
            .flatten()
            .filter_map(|p| p["name"].as_str())
            .collect();
        for (name, _) in parameter_rules() {
            assert!(parameters.contains(&name), "no parameter named {name}");
        }
        for (schema, alternatives) in alternatives() {
            let properties = spec["components"]["schemas"][schema]["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{schema} is not in the document"));
            for alt in &alternatives {
                let named = alt
                    .drop
                    .iter()
                    .chain(alt.require)
                    .chain(alt.narrow.iter().map(|(n, _)| n));
                for name in named {
                    assert!(properties.contains_key(*name), "{schema}.{name}");
                }
            }
            assert_eq!(
                spec["components"]["schemas"][schema]["oneOf"]
                    .as_array()
                    .map(Vec::len),
                Some(alternatives.len())
            );
        }
        for (path, method, status, targets) in LINKS {
            let links = &spec["paths"][path][method]["responses"][status]["links"];
            assert_eq!(
                links.as_object().map(Map::len),
                Some(targets.len()),
                "{method} {path}: {links}"
            );
        }
    }

    #[test]
    fn text_patterns_match_what_the_parsers_take() {
        let pattern = |rule: Value| {
            let text = rule["pattern"].as_str().unwrap().to_owned();
            regex::Regex::new(&text).unwrap()
        };
        let name = pattern(line(1, 5));
        for ok in ["a", " 김 ", "a b", "abcde", "\tab\n"] {
            assert!(name.is_match(ok), "{ok:?}");
        }
        for bad in ["", "   ", "abcdef", "a\u{1}b", "\u{85}"] {
            assert!(!name.is_match(bad), "{bad:?}");
        }
        let reason = pattern(line(5, 500));
        assert!(reason.is_match("  fraud  "));
        assert!(!reason.is_match("  frd  "));
        let description = pattern(prose(0, 10));
        for ok in ["", "  ", "line\nline", "탭\t"] {
            assert!(description.is_match(ok), "{ok:?}");
        }
        assert!(!description.is_match("a\u{7}b"));
    }
}
