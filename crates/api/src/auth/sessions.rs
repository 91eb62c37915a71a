//! Whether an access token's login session is still alive. A token is
//! signed for 15 minutes, but logout, a password change, a reused refresh
//! token or a role change end its session at once: the extractor asks here
//! on every request. Answers are cached (an ended session for good, a live
//! one for [`ALIVE_FOR`]); revocations from any instance, through the room
//! bus, drop the entries they concern at once.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sitga_core::UserId;
use sitga_persistence::{DbPool, refresh_tokens};
use sitga_realtime::bus::Revocation;
use tokio::sync::broadcast;

use crate::error::ApiError;

/// How long a live answer is trusted without a revocation: the longest a
/// change made where no bus reaches (another process's `sitga admin`
/// command in embedded mode) takes to apply.
pub const ALIVE_FOR: Duration = Duration::from_secs(30);
/// Entries kept before the cache starts afresh.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    user: UserId,
    alive: bool,
    checked: Instant,
}

/// The session cache of one instance.
#[derive(Debug, Default)]
pub struct Sessions {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Sessions {
    /// Whether `user`'s session `sid` is alive.
    pub async fn alive(&self, db: &DbPool, user: UserId, sid: &str) -> Result<bool, ApiError> {
        let cached = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sid)
            .copied();
        match cached {
            Some(e) if e.user == user && !e.alive => return Ok(false),
            Some(e) if e.user == user && e.checked.elapsed() < ALIVE_FOR => return Ok(true),
            _ => {}
        }
        // On a task of its own: an extractor's future is dropped when another
        // extractor of the request fails first, and a SQLite query must not
        // be dropped half-way (its driver would block the worker thread).
        let (db, owned_sid) = (db.clone(), sid.to_owned());
        let alive = actix_web::rt::spawn(async move {
            let mut conn = db.get().await?;
            refresh_tokens::session_alive(&mut conn, user, &owned_sid).await
        })
        .await
        .map_err(ApiError::internal)??;
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            sid.to_owned(),
            Entry {
                user,
                alive,
                checked: Instant::now(),
            },
        );
        Ok(alive)
    }

    /// Applies one revocation: an ended session is known dead; a user's
    /// sessions are asked again.
    pub fn apply(&self, revocation: &Revocation) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match revocation {
            Revocation::Session(sid) => {
                if let Some(entry) = entries.get_mut(sid) {
                    entry.alive = false;
                }
            }
            Revocation::User(user) => entries.retain(|_, e| e.user != *user),
        }
    }

    /// Forgets everything (after missing revocations).
    fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Keeps the cache in step with every revocation until the bus closes.
    pub async fn follow(&self, mut revocations: broadcast::Receiver<Revocation>) {
        loop {
            match revocations.recv().await {
                Ok(revocation) => self.apply(&revocation),
                Err(broadcast::error::RecvError::Lagged(_)) => self.clear(),
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocations_drop_what_they_name() {
        let sessions = Sessions::default();
        let (alice, bob) = (UserId::new(1), UserId::new(2));
        {
            let mut entries = sessions.entries.lock().unwrap();
            for (sid, user) in [("a1", alice), ("a2", alice), ("b1", bob)] {
                entries.insert(
                    sid.into(),
                    Entry {
                        user,
                        alive: true,
                        checked: Instant::now(),
                    },
                );
            }
        }
        sessions.apply(&Revocation::Session("b1".into()));
        sessions.apply(&Revocation::User(alice));
        let entries = sessions.entries.lock().unwrap();
        assert!(!entries.contains_key("a1") && !entries.contains_key("a2"));
        assert!(!entries["b1"].alive);
    }
}
