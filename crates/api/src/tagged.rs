//! Read responses with an `ETag`.
//!
//! Auction bodies carry `server_now`, the server's clock, so that phones
//! count down from it; no two answers are byte-equal. A [`TaggedJson`] is
//! encoded once with every `server_now` at a placeholder, hashed without the
//! clock (the weak tag: the same auction data, whatever the time), and the
//! clock is written in as the answer leaves. `If-None-Match` with the
//! current tag is answered `304 Not Modified` (the client then re-bases its
//! countdowns on the `Date` header). The answers are `no-store`: an HTTP
//! cache that revalidated by itself would hand the client a body with an
//! old clock.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use actix_web::http::header::{self, EntityTag, Header as _, IfNoneMatch};
use actix_web::{HttpRequest, HttpResponse, Responder, body::BoxBody};
use chrono::{DateTime, Utc};
use paperclip::actix::{OperationModifier, web};
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw, Either, Response};
use paperclip::v2::schema::Apiv2Schema;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// What `server_now` is set to before encoding.
pub const CLOCK_PLACEHOLDER: DateTime<Utc> = DateTime::<Utc>::UNIX_EPOCH;

/// The placeholder's key and value as serde_json writes them. A string value
/// cannot hold this byte sequence (its quotes would be escaped), so every
/// occurrence is a real `server_now` field.
const CLOCK_FIELD: &[u8] = br#""server_now":"1970-01-01T00:00:00Z""#;

/// A JSON body encoded once: the pieces between its `server_now` fields,
/// and its tag.
#[derive(Debug)]
pub struct TaggedJson {
    pieces: Vec<Vec<u8>>,
    etag: EntityTag,
}

impl TaggedJson {
    /// Encodes `value`, whose `server_now` fields (at any depth) hold
    /// [`CLOCK_PLACEHOLDER`].
    pub fn encode<T: Serialize>(value: &T) -> Result<Self, serde_json::Error> {
        let text = serde_json::to_vec(value)?;
        let digest = Sha256::digest(&text);
        let mut pieces = Vec::new();
        let mut rest = text.as_slice();
        while let Some(at) = memchr::memmem::find(rest, CLOCK_FIELD) {
            pieces.push(rest[..at].to_vec());
            rest = &rest[at + CLOCK_FIELD.len()..];
        }
        pieces.push(rest.to_vec());
        Ok(Self {
            pieces,
            etag: EntityTag::new_weak(hex::encode(&digest[..12])),
        })
    }

    /// The weak tag: equal for equal data, whatever the clock.
    pub fn etag(&self) -> &EntityTag {
        &self.etag
    }

    /// The body, with `now` in every `server_now`.
    pub fn render(&self, now: DateTime<Utc>) -> Vec<u8> {
        let clock = serde_json::to_vec(&now).unwrap_or_default();
        let fields = self.pieces.len().saturating_sub(1);
        let text: usize = self.pieces.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(text + fields * (clock.len() + 14));
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(br#""server_now":"#);
                out.extend_from_slice(&clock);
            }
            out.extend_from_slice(piece);
        }
        out
    }

    /// Whether the client's `If-None-Match` names this body.
    fn matches(&self, req: &HttpRequest) -> bool {
        match IfNoneMatch::parse(req) {
            Ok(IfNoneMatch::Any) => true,
            Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.weak_eq(&self.etag)),
            // Unreadable: answer in full, as without the header.
            Err(_) => false,
        }
    }
}

/// A `200` JSON answer of `T` with an `ETag`, or `304` when the client has
/// it. `private` answers depend on who asks.
pub struct Tagged<T> {
    body: Arc<TaggedJson>,
    private: bool,
    kind: PhantomData<T>,
}

impl<T> Tagged<T> {
    /// An answer anyone may be given.
    pub fn public(body: Arc<TaggedJson>) -> Self {
        Self {
            body,
            private: false,
            kind: PhantomData,
        }
    }

    /// An answer for the one who asked (a shared cache must not keep it).
    pub fn private(body: TaggedJson) -> Self {
        Self {
            body: Arc::new(body),
            private: true,
            kind: PhantomData,
        }
    }
}

impl<T> Responder for Tagged<T> {
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse<Self::Body> {
        // Not kept by HTTP caches: one that revalidates on its own hands the
        // client the stored body, whose `server_now` is as old as the body,
        // and countdowns would run from it. A client that sends
        // `If-None-Match` itself knows it got a 304 (and reads `Date`).
        let cache = if self.private {
            "private, no-store"
        } else {
            "no-store"
        };
        let tag = header::ETag(self.body.etag().clone());
        if self.body.matches(req) {
            return HttpResponse::NotModified()
                .insert_header(tag)
                .insert_header((header::CACHE_CONTROL, cache))
                .finish();
        }
        HttpResponse::Ok()
            .content_type(mime::APPLICATION_JSON)
            .insert_header(tag)
            .insert_header((header::CACHE_CONTROL, cache))
            .body(self.body.render(Utc::now()))
    }
}

impl<T: Apiv2Schema> Apiv2Schema for Tagged<T> {
    fn name() -> Option<String> {
        T::name()
    }

    fn raw_schema() -> DefaultSchemaRaw {
        T::raw_schema()
    }
}

impl<T: Apiv2Schema> OperationModifier for Tagged<T> {
    fn update_response(op: &mut DefaultOperationRaw) {
        web::Json::<T>::update_response(op);
        op.responses.insert(
            "304".into(),
            Either::Right(Response {
                description: Some("Not Modified: `If-None-Match` named the current `ETag`".into()),
                schema: None,
                headers: BTreeMap::new(),
            }),
        );
    }

    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        web::Json::<T>::update_definitions(map);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[derive(Serialize)]
    struct Item {
        title: String,
        server_now: DateTime<Utc>,
    }

    #[derive(Serialize)]
    struct Page {
        items: Vec<Item>,
        total: i64,
    }

    fn page(titles: &[&str]) -> Page {
        Page {
            items: titles
                .iter()
                .map(|t| Item {
                    title: (*t).to_owned(),
                    server_now: CLOCK_PLACEHOLDER,
                })
                .collect(),
            total: titles.len() as i64,
        }
    }

    #[test]
    fn the_clock_is_written_into_every_item_at_send_time() {
        // A title that spells the placeholder field is left alone.
        let sneaky = r#""server_now":"1970-01-01T00:00:00Z""#;
        let body = TaggedJson::encode(&page(&["감성돔", sneaky])).unwrap();
        let now = Utc::now();
        let sent: serde_json::Value = serde_json::from_slice(&body.render(now)).unwrap();
        let expected = serde_json::to_value(Page {
            items: vec![
                Item {
                    title: "감성돔".into(),
                    server_now: now,
                },
                Item {
                    title: sneaky.into(),
                    server_now: now,
                },
            ],
            total: 2,
        })
        .unwrap();
        assert_eq!(sent, expected);
    }

    #[test]
    fn the_tag_follows_the_data_not_the_clock() {
        let one = TaggedJson::encode(&page(&["감성돔"])).unwrap();
        let same = TaggedJson::encode(&page(&["감성돔"])).unwrap();
        let other = TaggedJson::encode(&page(&["부시리"])).unwrap();
        assert_eq!(one.etag(), same.etag());
        assert_ne!(one.etag(), other.etag());
        assert!(one.etag().weak);
    }

    #[test]
    fn if_none_match_is_read_as_the_standard_says() {
        let body = TaggedJson::encode(&page(&["감성돔"])).unwrap();
        let tag = body.etag().to_string();
        let strong = format!("\"{}\"", body.etag().tag());
        for (header, matches) in [
            (tag.as_str(), true),
            (strong.as_str(), true),
            ("*", true),
            ("W/\"other\", W/\"else\"", false),
            ("not a tag", false),
        ] {
            let req = TestRequest::default()
                .insert_header((header::IF_NONE_MATCH, header))
                .to_http_request();
            assert_eq!(body.matches(&req), matches, "{header}");
        }
        let list = format!("W/\"other\", {tag}");
        let req = TestRequest::default()
            .insert_header((header::IF_NONE_MATCH, list.as_str()))
            .to_http_request();
        assert!(body.matches(&req));
        assert!(!body.matches(&TestRequest::default().to_http_request()));
    }
}
