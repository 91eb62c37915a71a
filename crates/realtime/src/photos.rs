//! Photo uploads end to end: processing off the async workers within a
//! bounded number of slots, the files into the photo store, the record into
//! the database; reading a size back; and the sweep of photos nobody
//! attached.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use sitga_core::UserId;
use sitga_persistence::photos::{self, NewPhoto, Photo};
use sitga_persistence::{DbError, DbPool};
use sitga_photos::{Digest, PhotoError, PhotoStore, Processed, Size, StoreError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long an unattached photo is kept: long enough to fill in the rest of
/// an auction's form, then it is an orphan.
pub const ORPHAN_AFTER: Duration = Duration::days(1);

/// Orphans removed per database round in one sweep.
const SWEEP_BATCH: i64 = 200;

/// Why an upload or a read failed.
#[derive(Debug, thiserror::Error)]
pub enum PhotoServiceError {
    /// Every processing slot is taken: try again shortly.
    #[error("photo processing is busy")]
    Busy,
    /// The upload is not a usable image.
    #[error(transparent)]
    Image(#[from] PhotoError),
    /// The photo store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The processing task died.
    #[error("photo processing stopped: {0}")]
    Join(String),
}

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Photo records.
    pub photos: usize,
    /// Files no other photo uses.
    pub files: usize,
}

/// A reserved processing slot: taken before the upload is read, so a busy
/// server refuses at once instead of buffering 10 MB first.
pub struct Slot(#[allow(dead_code)] OwnedSemaphorePermit);

/// Photo uploads and reads. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Photos {
    db: DbPool,
    store: PhotoStore,
    slots: Arc<Semaphore>,
}

impl Photos {
    /// Uploads into `store`, recorded in `db`; as many decode at once as
    /// the machine has cores, times two (each may hold up to 200 MiB).
    pub fn new(db: DbPool, store: PhotoStore) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Photos {
            db,
            store,
            slots: Arc::new(Semaphore::new(cores * 2)),
        }
    }

    /// The store the files are in.
    pub fn store(&self) -> &PhotoStore {
        &self.store
    }

    /// A processing slot, or [`PhotoServiceError::Busy`] when all are taken.
    pub fn reserve(&self) -> Result<Slot, PhotoServiceError> {
        self.slots
            .clone()
            .try_acquire_owned()
            .map(Slot)
            .map_err(|_| PhotoServiceError::Busy)
    }

    /// Cleans and stores `owner`'s upload: its three sizes into the store,
    /// then its record. Nothing is recorded unless every file is stored.
    pub async fn upload(
        &self,
        slot: Slot,
        owner: UserId,
        upload: Vec<u8>,
    ) -> Result<Photo, PhotoServiceError> {
        let processed = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            sitga_photos::process(&upload)
        })
        .await
        .map_err(|e| PhotoServiceError::Join(e.to_string()))??;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let photo = self.keep(owner, &processed, id).await?;
        tracing::info!(user_id = owner.get(), photo_id = %photo.id, bytes = photo.bytes, "photo stored");
        Ok(photo)
    }

    /// Stores a processed photo's files, then records it as `owner`'s
    /// under `id` (32 hex digits).
    pub async fn keep(
        &self,
        owner: UserId,
        processed: &Processed,
        id: String,
    ) -> Result<Photo, PhotoServiceError> {
        for variant in &processed.variants {
            self.store
                .put(&variant.digest, variant.bytes.clone())
                .await?;
        }
        let digest = |size| processed.variant(size).digest.as_str().to_owned();
        let record = NewPhoto {
            id,
            owner_id: owner,
            width: i32::try_from(processed.width).unwrap_or(i32::MAX),
            height: i32::try_from(processed.height).unwrap_or(i32::MAX),
            bytes: i64::try_from(processed.variant(Size::Original).bytes.len()).unwrap_or(i64::MAX),
            thumb: digest(Size::Thumb),
            display: digest(Size::Display),
            original: digest(Size::Original),
        };
        let mut conn = self.db.get().await?;
        Ok(photos::insert(&mut conn, &record).await?)
    }

    /// The file of `id` at `size` with its digest, or `None` for an unknown
    /// photo.
    pub async fn file(
        &self,
        id: &str,
        size: Size,
    ) -> Result<Option<(Digest, Bytes)>, PhotoServiceError> {
        let photo = {
            let mut conn = self.db.get().await?;
            photos::find(&mut conn, id).await?
        };
        let Some(photo) = photo else {
            return Ok(None);
        };
        let digest = match size {
            Size::Thumb => &photo.thumb,
            Size::Display => &photo.display,
            Size::Original => &photo.original,
        };
        let Some(digest) = Digest::parse(digest) else {
            return Ok(None);
        };
        match self.store.get(&digest).await {
            Ok(bytes) => Ok(Some((digest, bytes))),
            // A record whose file is gone (removed by hand) reads as unknown.
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The stored bytes of `photo`'s cleaned original.
    pub async fn original(&self, photo: &Photo) -> Result<Bytes, PhotoServiceError> {
        let digest = Digest::parse(&photo.original).ok_or(StoreError::NotFound)?;
        Ok(self.store.get(&digest).await?)
    }

    /// Deletes photos never attached and uploaded more than
    /// [`ORPHAN_AFTER`] before `now`, and their files unless another photo
    /// has the same bytes. Safe on several instances at once: a record is
    /// deleted only while still unattached, and a file only once no record
    /// names it.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<Swept, PhotoServiceError> {
        let mut swept = Swept::default();
        loop {
            let mut conn = self.db.get().await?;
            let batch = photos::orphans(&mut conn, now - ORPHAN_AFTER, SWEEP_BATCH).await?;
            if batch.is_empty() {
                return Ok(swept);
            }
            let ids: Vec<String> = batch.iter().map(|p| p.id.clone()).collect();
            let deleted = photos::delete_unattached(&mut conn, &ids).await?;
            swept.photos += deleted;
            let mut digests: Vec<String> = batch
                .iter()
                .flat_map(|p| p.digests().map(str::to_owned))
                .collect();
            digests.sort_unstable();
            digests.dedup();
            // Left open: an upload of the very same bytes recorded between
            // this check and the delete below would lose its files (its GET
            // answers 404). It needs a day-old orphan with identical bytes
            // in the same instant; a reference count per file would close it.
            let in_use = photos::digests_in_use(&mut conn, &digests).await?;
            drop(conn);
            for digest in digests.iter().filter(|d| !in_use.contains(*d)) {
                if let Some(digest) = Digest::parse(digest) {
                    self.store.delete(&digest).await?;
                    swept.files += 1;
                }
            }
            if deleted == 0 || batch.len() < usize::try_from(SWEEP_BATCH).unwrap_or(usize::MAX) {
                return Ok(swept);
            }
        }
    }
}
