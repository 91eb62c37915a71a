//! Auction lists kept in memory between changes.
//!
//! A page of auctions (`GET /api/v1/auctions`) is built from the database
//! once, encoded once ([`TaggedJson`]) and served from memory while
//! nothing it shows can have changed. What changes a listed auction reaches
//! every instance as a room frame (bids, closes, clock steps, starts,
//! edits) or as [`RoomBus::listings_changed`] (a new auction, a nickname),
//! and each moves the bus's listings version: a page read at an older
//! version is built again. So a list is never staler than the room frames
//! on the same instance. What no frame tells (view counts, a moderated
//! photo) is at most [`MAX_AGE`] old, and a page whose content moves with
//! the clock (a scheduled start, a clock auction's next step) is rebuilt
//! when it does.
//!
//! One request builds a missing page while the others asking for it wait
//! for it (no stampede on the database when a hot page goes stale). If that
//! build fails, those that waited try at once, each on its own, rather than
//! queueing behind one another's timeouts while the database is down.
//!
//! [`RoomBus::listings_changed`]: sitga_realtime::bus::RoomBus::listings_changed

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Mutex as AsyncMutex;

use crate::tagged::TaggedJson;

/// The longest a page is served without being read again.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Distinct pages kept (the filters are the client's choice: a search
/// text makes a page of its own). Past this, stale ones are dropped; while
/// all are current, new ones are built and not kept.
pub const PAGES_KEPT: usize = 256;

/// Which page: the list's filters after parsing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    /// Status code, `None` for all.
    pub status: Option<&'static str>,
    /// Seller id.
    pub seller: Option<i64>,
    /// Search text.
    pub query: Option<String>,
    /// Sort code.
    pub sort: &'static str,
    /// Page number.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
}

#[derive(Debug)]
struct Kept {
    version: u64,
    until: Instant,
    body: Arc<TaggedJson>,
}

impl Kept {
    fn current(&self, version: u64, now: Instant) -> bool {
        self.version == version && now < self.until
    }
}

/// One page's place: what is kept, and when its last build failed.
#[derive(Debug, Default)]
struct Place {
    kept: Option<Kept>,
    failed_at: Option<Instant>,
}

type Slot = Arc<AsyncMutex<Place>>;

/// The kept pages of one instance.
#[derive(Debug, Default)]
pub struct Listings {
    slots: Mutex<HashMap<PageKey, Slot>>,
}

/// A page as built: its body, and when its content changes by itself (the
/// earliest scheduled start or clock step it shows), if it does.
pub struct Built {
    /// The encoded page.
    pub body: TaggedJson,
    /// When the clock alone changes what it shows.
    pub changes_at: Option<DateTime<Utc>>,
}

impl Listings {
    /// The page for `key`: kept if still current at `version()`, else built
    /// by `build` (which reads the database) and kept.
    pub async fn page<E, F, Fut>(
        &self,
        key: PageKey,
        version: impl Fn() -> u64,
        build: F,
    ) -> Result<Arc<TaggedJson>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Built, E>>,
    {
        let Some(slot) = self.slot(key, &version) else {
            return build().await.map(|b| Arc::new(b.body));
        };
        let arrived = Instant::now();
        let mut place = slot.lock().await;
        if let Some(k) = place
            .kept
            .as_ref()
            .filter(|k| k.current(version(), Instant::now()))
        {
            return Ok(Arc::clone(&k.body));
        }
        if place.failed_at.is_some_and(|at| at >= arrived) {
            // The build this request waited for failed (the database is
            // down or slow): try at once, side by side with the others that
            // waited, instead of one after another.
            drop(place);
            return build().await.map(|b| Arc::new(b.body));
        }
        // Read before the database: a change committed during the build
        // moves it, and the page is built again on the next request.
        let at = version();
        let started = Instant::now();
        let built = match build().await {
            Ok(built) => built,
            Err(e) => {
                place.failed_at = Some(Instant::now());
                return Err(e);
            }
        };
        let body = Arc::new(built.body);
        place.kept = Some(Kept {
            version: at,
            until: started + until(built.changes_at, Utc::now()),
            body: Arc::clone(&body),
        });
        place.failed_at = None;
        Ok(body)
    }

    fn slot(&self, key: PageKey, version: &impl Fn() -> u64) -> Option<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get(&key) {
            return Some(Arc::clone(slot));
        }
        if slots.len() >= PAGES_KEPT {
            let (now, at) = (Instant::now(), version());
            // Keep what is being built or still current.
            slots.retain(|_, slot| match slot.try_lock() {
                Ok(place) => place.kept.as_ref().is_some_and(|k| k.current(at, now)),
                Err(_) => true,
            });
            if slots.len() >= PAGES_KEPT {
                return None;
            }
        }
        Some(Arc::clone(slots.entry(key).or_default()))
    }

    /// Pages kept now.
    pub fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How long a page built at `now` stays current by the clock.
fn until(changes_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Duration {
    let by_clock = changes_at
        .map(|at| (at - now).to_std().unwrap_or(Duration::ZERO))
        .unwrap_or(MAX_AGE);
    by_clock.min(MAX_AGE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    fn key(page: u32) -> PageKey {
        PageKey {
            status: Some("open"),
            seller: None,
            query: None,
            sort: "newest",
            page,
            per_page: 20,
        }
    }

    fn built(text: &str, changes_at: Option<DateTime<Utc>>) -> Result<Built, ()> {
        Ok(Built {
            body: TaggedJson::encode(&text).unwrap(),
            changes_at,
        })
    }

    #[tokio::test]
    async fn a_page_is_read_again_once_the_version_moves() {
        let listings = Listings::default();
        let version = AtomicU64::new(0);
        let builds = AtomicUsize::new(0);
        let get = || async {
            listings
                .page(
                    key(1),
                    || version.load(Ordering::SeqCst),
                    || async {
                        let n = builds.fetch_add(1, Ordering::SeqCst);
                        built(&format!("build {n}"), None)
                    },
                )
                .await
                .unwrap()
        };
        let first = get().await;
        let again = get().await;
        assert_eq!(first.etag(), again.etag());
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        version.fetch_add(1, Ordering::SeqCst);
        let after = get().await;
        assert_ne!(first.etag(), after.etag());
        assert_eq!(builds.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_change_during_the_build_is_not_hidden() {
        let listings = Listings::default();
        let version = AtomicU64::new(0);
        let builds = AtomicUsize::new(0);
        for _ in 0..2 {
            listings
                .page(
                    key(1),
                    || version.load(Ordering::SeqCst),
                    || async {
                        // A bid commits while the page is read.
                        if builds.fetch_add(1, Ordering::SeqCst) == 0 {
                            version.fetch_add(1, Ordering::SeqCst);
                        }
                        built("page", None)
                    },
                )
                .await
                .unwrap();
        }
        assert_eq!(builds.load(Ordering::SeqCst), 2);
    }

    /// The page `page` at version 0; a build counts itself, takes `pause`
    /// and says its content changes by itself at `changes_at`.
    async fn fetch(
        listings: &Listings,
        page: u32,
        builds: &AtomicUsize,
        changes_at: Option<DateTime<Utc>>,
        pause: Duration,
    ) -> Arc<TaggedJson> {
        listings
            .page(
                key(page),
                || 0,
                || async {
                    builds.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(pause).await;
                    built("page", changes_at)
                },
            )
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_page_that_moves_with_the_clock_is_rebuilt_then() {
        let listings = Listings::default();
        let builds = AtomicUsize::new(0);
        for _ in 0..2 {
            // A clock step due now.
            fetch(&listings, 1, &builds, Some(Utc::now()), Duration::ZERO).await;
        }
        assert_eq!(builds.load(Ordering::SeqCst), 2);
        assert_eq!(
            until(Some(Utc::now() + chrono::Duration::hours(1)), Utc::now()),
            MAX_AGE
        );
        assert_eq!(until(None, Utc::now()), MAX_AGE);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_readers_of_a_missing_page_share_one_build() {
        let listings = Arc::new(Listings::default());
        let builds = Arc::new(AtomicUsize::new(0));
        let readers: Vec<_> = (0..16)
            .map(|_| {
                let (listings, builds) = (Arc::clone(&listings), Arc::clone(&builds));
                tokio::spawn(async move {
                    fetch(&listings, 1, &builds, None, Duration::from_millis(50)).await
                })
            })
            .collect();
        for reader in readers {
            reader.await.unwrap();
        }
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }

    /// While the database is down, the readers queued behind a failing
    /// build are not served one timeout after another.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readers_behind_a_failed_build_try_side_by_side() {
        let listings = Arc::new(Listings::default());
        let in_flight = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let readers: Vec<_> = (0..8)
            .map(|_| {
                let (listings, in_flight, most) = (
                    Arc::clone(&listings),
                    Arc::clone(&in_flight),
                    Arc::clone(&most),
                );
                tokio::spawn(async move {
                    listings
                        .page(
                            key(1),
                            || 0,
                            || async {
                                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                                most.fetch_max(now, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(250)).await;
                                in_flight.fetch_sub(1, Ordering::SeqCst);
                                Err::<Built, _>("database unavailable")
                            },
                        )
                        .await
                })
            })
            .collect();
        for reader in readers {
            assert!(reader.await.unwrap().is_err());
        }
        // The first build alone, then the seven that waited together.
        assert!(most.load(Ordering::SeqCst) > 1);
    }

    #[tokio::test]
    async fn many_search_texts_never_grow_it_past_its_bound() {
        let listings = Listings::default();
        let builds = AtomicUsize::new(0);
        for page in 0..(PAGES_KEPT as u32 + 50) {
            fetch(&listings, page, &builds, None, Duration::ZERO).await;
        }
        assert_eq!(listings.len(), PAGES_KEPT);
        // The kept ones still answer from memory.
        let before = builds.load(Ordering::SeqCst);
        fetch(&listings, 0, &builds, None, Duration::ZERO).await;
        assert_eq!(builds.load(Ordering::SeqCst), before);
    }
}
