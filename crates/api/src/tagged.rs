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
//!
//! A kept (public) body is compressed here rather than by the `Compress`
//! middleware, once per encoding, and the compressed copy is reused for
//! [`COMPRESSED_REUSE`]: compressed per answer, a 75 KB page was served at
//! 17–48 % of the uncompressed rate, and at 1–3 % in brotli (actix's
//! settings allocate a 4 MiB window per answer), so a client asking for it
//! in a loop bought milliseconds of server CPU per request. A reused
//! copy's `server_now` is up to that old when it leaves.

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::header::{
    self, AcceptEncoding, ContentEncoding, Encoding, EntityTag, Header as _, IfNoneMatch,
};
use actix_web::{HttpRequest, HttpResponse, Responder, body::BoxBody};
use bytes::Bytes;
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

/// How long a kept body's compressed copy is served: the most its
/// `server_now` lags the answer (a phone's round trip is longer, and
/// countdowns show seconds), and at most one compression per page and
/// encoding this often, however many clients ask.
pub const COMPRESSED_REUSE: Duration = Duration::from_millis(25);

/// The encodings a kept body is compressed in here (others, `deflate`, are
/// left to the `Compress` middleware).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Brotli,
    Gzip,
    Zstd,
}

/// The encodings actix-web's `Compress` offers, in its order, so that the
/// choice made here is the one it would make.
const OFFERED: [Encoding; 5] = [
    Encoding::identity(),
    Encoding::brotli(),
    Encoding::gzip(),
    Encoding::deflate(),
    Encoding::zstd(),
];

impl Coding {
    /// The encoding the client gets, when it is one compressed here.
    fn negotiate(req: &HttpRequest) -> Option<Self> {
        // An unreadable header: `Compress` answers uncompressed, and so do we.
        let accepted = AcceptEncoding::parse(req).ok()?;
        match accepted.negotiate(OFFERED.iter())? {
            Encoding::Known(ContentEncoding::Brotli) => Some(Self::Brotli),
            Encoding::Known(ContentEncoding::Gzip) => Some(Self::Gzip),
            Encoding::Known(ContentEncoding::Zstd) => Some(Self::Zstd),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn header(self) -> ContentEncoding {
        match self {
            Self::Brotli => ContentEncoding::Brotli,
            Self::Gzip => ContentEncoding::Gzip,
            Self::Zstd => ContentEncoding::Zstd,
        }
    }

    /// Compressed once and served many times: settings for size rather
    /// than for speed (a 75 KB page: ~1 ms each, 3–27 % smaller than
    /// `Compress`'s per-answer settings).
    fn compress(self, text: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            Self::Brotli => {
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 5,
                    // A 256 KiB window holds a whole page.
                    lgwin: 18,
                    size_hint: text.len(),
                    ..Default::default()
                };
                let mut out = Vec::with_capacity(text.len() / 8);
                brotli::BrotliCompress(&mut &text[..], &mut out, &params)?;
                Ok(out)
            }
            Self::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(text.len() / 8),
                    flate2::Compression::default(),
                );
                encoder.write_all(text)?;
                encoder.finish()
            }
            Self::Zstd => zstd::bulk::compress(text, 6),
        }
    }
}

/// A compressed copy of a body, and when its clock was written.
#[derive(Debug)]
struct Compressed {
    made: Instant,
    bytes: Bytes,
}

/// A JSON body encoded once: the pieces between its `server_now` fields,
/// and its tag.
#[derive(Debug)]
pub struct TaggedJson {
    pieces: Vec<Vec<u8>>,
    etag: EntityTag,
    /// Per [`Coding`], the copy served until it is [`COMPRESSED_REUSE`] old.
    compressed: [Mutex<Option<Compressed>>; 3],
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
            compressed: Default::default(),
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

    /// The body in `coding` as of `now`: the copy made less than
    /// [`COMPRESSED_REUSE`] before, or a new one. A request that finds the
    /// copy old compresses while the others asking for it wait (one
    /// compression, not one each).
    fn compressed(&self, coding: Coding, now: Instant) -> io::Result<Bytes> {
        let mut slot = self.compressed[coding.index()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(copy) = slot
            .as_ref()
            .filter(|c| now.saturating_duration_since(c.made) < COMPRESSED_REUSE)
        {
            return Ok(copy.bytes.clone());
        }
        let bytes = Bytes::from(coding.compress(&self.render(Utc::now()))?);
        *slot = Some(Compressed {
            made: now,
            bytes: bytes.clone(),
        });
        Ok(bytes)
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

impl<T> Tagged<T> {
    /// Whether someone else holds the body (the kept list pages): only then
    /// can a compressed copy be served again. A body built for this one
    /// answer (one auction, a page served unkept) is left to `Compress`,
    /// whose settings are cheaper for a copy made once.
    fn kept(&self) -> bool {
        Arc::strong_count(&self.body) > 1
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
        let mut ok = HttpResponse::Ok();
        ok.content_type(mime::APPLICATION_JSON)
            .insert_header(tag)
            .insert_header((header::CACHE_CONTROL, cache));
        if let Some(coding) = Coding::negotiate(req).filter(|_| self.kept()) {
            match self.body.compressed(coding, Instant::now()) {
                // `Compress` leaves a body that names its encoding alone.
                Ok(bytes) => {
                    return ok
                        .insert_header(coding.header())
                        .insert_header((header::VARY, "accept-encoding"))
                        .body(bytes);
                }
                Err(e) => tracing::warn!(error = %e, "a kept page was not compressed"),
            }
        }
        ok.body(self.body.render(Utc::now()))
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
    fn only_a_body_someone_keeps_is_compressed_here() {
        let kept = Arc::new(TaggedJson::encode(&page(&["감성돔"])).unwrap());
        assert!(Tagged::<()>::public(kept.clone()).kept());
        let once = Arc::new(TaggedJson::encode(&page(&["감성돔"])).unwrap());
        assert!(!Tagged::<()>::public(once).kept());
        assert!(!Tagged::<()>::private(TaggedJson::encode(&page(&["감성돔"])).unwrap()).kept());
    }

    fn decode(coding: Coding, bytes: &[u8]) -> serde_json::Value {
        use std::io::Read as _;
        let mut text = Vec::new();
        match coding {
            Coding::Brotli => brotli::Decompressor::new(bytes, 4096)
                .read_to_end(&mut text)
                .map(drop)
                .unwrap(),
            Coding::Gzip => flate2::read::GzDecoder::new(bytes)
                .read_to_end(&mut text)
                .map(drop)
                .unwrap(),
            Coding::Zstd => text = zstd::bulk::decompress(bytes, 1 << 20).unwrap(),
        }
        serde_json::from_slice(&text).unwrap()
    }

    #[test]
    fn a_kept_body_is_compressed_once_per_encoding_for_a_moment() {
        let titles: Vec<String> = (0..100).map(|i| format!("감성돔 {i}")).collect();
        let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
        let body = TaggedJson::encode(&page(&titles)).unwrap();
        let plain = body.render(Utc::now());
        let start = Instant::now();
        for coding in [Coding::Brotli, Coding::Gzip, Coding::Zstd] {
            let before = Utc::now();
            let first = body.compressed(coding, start).unwrap();
            let after = Utc::now();
            assert!(first.len() * 4 < plain.len(), "{coding:?}: {}", first.len());
            let sent = decode(coding, &first);
            assert_eq!(sent["items"][99]["title"], "감성돔 99");
            let clock: DateTime<Utc> =
                serde_json::from_value(sent["items"][0]["server_now"].clone()).unwrap();
            assert!(before <= clock && clock <= after, "{coding:?}: {clock}");
            // Within the moment: the same bytes, not compressed again.
            let again = body
                .compressed(coding, start + COMPRESSED_REUSE / 2)
                .unwrap();
            assert_eq!(again.as_ptr(), first.as_ptr(), "{coding:?}");
            // After it: a new copy with a new clock.
            let later = body.compressed(coding, start + COMPRESSED_REUSE).unwrap();
            assert_ne!(later.as_ptr(), first.as_ptr(), "{coding:?}");
            let renewed = decode(coding, &later);
            assert_eq!(renewed["items"][99]["title"], "감성돔 99");
            let newer: DateTime<Utc> =
                serde_json::from_value(renewed["items"][0]["server_now"].clone()).unwrap();
            assert!(newer >= clock, "{coding:?}: {newer} < {clock}");
        }
    }

    /// Whatever the client accepts, a kept page is given the encoding
    /// `Compress` gives any other answer.
    #[actix_web::test]
    async fn the_encoding_is_the_one_compress_would_choose() {
        use actix_web::{App, middleware::Compress, test};
        let titles: Vec<String> = (0..50).map(|i| format!("부시리 {i}")).collect();
        let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
        let kept = Arc::new(TaggedJson::encode(&page(&titles)).unwrap());
        let other = String::from_utf8(kept.render(Utc::now())).unwrap();
        let app = test::init_service(
            App::new()
                .wrap(Compress::default())
                .route(
                    "/kept",
                    actix_web::web::get().to(move || {
                        let kept = kept.clone();
                        async move { Tagged::<()>::public(kept) }
                    }),
                )
                .route(
                    "/other",
                    actix_web::web::get().to(move || {
                        let other = other.clone();
                        async move {
                            HttpResponse::Ok()
                                .content_type(mime::APPLICATION_JSON)
                                .body(other)
                        }
                    }),
                ),
        )
        .await;
        let mut compressed_here = 0;
        for accept in [
            None,
            Some("gzip"),
            Some("br"),
            Some("zstd"),
            Some("deflate"),
            Some("identity"),
            Some("gzip, deflate, br, zstd"),
            Some("br;q=0.5, zstd"),
            Some("zstd;q=0.9, gzip"),
            Some("*"),
            Some("gzip;q=0, *"),
            Some("not, a; valid header"),
        ] {
            let mut encodings = Vec::new();
            for path in ["/kept", "/other"] {
                let mut req = test::TestRequest::get().uri(path);
                if let Some(accept) = accept {
                    req = req.insert_header((header::ACCEPT_ENCODING, accept));
                }
                let res = test::call_service(&app, req.to_request()).await;
                assert!(
                    res.status().is_success(),
                    "{accept:?} {path}: {}",
                    res.status()
                );
                encodings.push(res.headers().get(header::CONTENT_ENCODING).cloned());
            }
            assert_eq!(encodings[0], encodings[1], "{accept:?}");
            compressed_here += usize::from(
                encodings[0]
                    .as_ref()
                    .is_some_and(|e| e != "deflate" && e != "identity"),
            );
        }
        assert!(compressed_here >= 6, "{compressed_here}");
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
