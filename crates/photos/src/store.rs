//! Where photo files live: a directory, or an S3-compatible bucket, behind
//! the `object_store` crate. Files are named by their [`Digest`], so the
//! same bytes are stored once and a name never changes meaning.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::Digest;

/// Why the store could not be set up or answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `SITGA_PHOTO_STORE` (or the bucket's settings) cannot be used.
    #[error("photo store: {0}")]
    Config(String),
    /// No file of that digest.
    #[error("no stored photo file of that digest")]
    NotFound,
    /// The directory or bucket failed.
    #[error("photo store: {0}")]
    Backend(#[source] object_store::Error),
}

impl From<object_store::Error> for StoreError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => StoreError::NotFound,
            e => StoreError::Backend(e),
        }
    }
}

/// The photo files, wherever they are kept. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PhotoStore {
    inner: Arc<dyn ObjectStore>,
    location: String,
}

impl PhotoStore {
    /// Files under `dir` (created if missing).
    pub fn local(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
        let fs = LocalFileSystem::new_with_prefix(dir).map_err(StoreError::Backend)?;
        Ok(PhotoStore {
            inner: Arc::new(fs),
            location: format!("directory {}", dir.display()),
        })
    }

    /// Files in the bucket `url` names (`s3://bucket` or
    /// `s3://bucket/prefix`). The endpoint, region and credentials come from
    /// the usual `AWS_*` variables (`AWS_ENDPOINT` for an S3-compatible
    /// server, `AWS_ALLOW_HTTP=true` for one without TLS).
    pub fn s3(url: &str) -> Result<Self, StoreError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| StoreError::Config(format!("`{url}` is not a URL: {e}")))?;
        let bucket = match (parsed.scheme(), parsed.host_str()) {
            ("s3", Some(bucket)) if !bucket.is_empty() => bucket.to_owned(),
            _ => {
                return Err(StoreError::Config(format!(
                    "`{url}` is not s3://bucket or s3://bucket/prefix"
                )));
            }
        };
        let s3 = AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .build()
            .map_err(|e| StoreError::Config(e.to_string()))?;
        let prefix = parsed.path().trim_matches('/').to_owned();
        let location = format!("s3://{bucket}/{prefix}");
        let inner: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix))
        };
        Ok(PhotoStore { inner, location })
    }

    /// The store `SITGA_PHOTO_STORE` names: `s3://…` for a bucket, a path
    /// (or `file://` URL) for a directory, or nothing for `photos` under the
    /// data directory.
    pub fn from_setting(setting: Option<&str>, data_dir: &Path) -> Result<Self, StoreError> {
        match setting.map(str::trim).filter(|s| !s.is_empty()) {
            None => Self::local(&data_dir.join("photos")),
            Some(url) if url.starts_with("s3://") => Self::s3(url),
            Some(url) => match url.strip_prefix("file://") {
                Some(path) => Self::local(Path::new(path)),
                None if url.contains("://") => Err(StoreError::Config(format!(
                    "`{url}`: only s3:// buckets and directories are supported"
                ))),
                None => Self::local(Path::new(url)),
            },
        }
    }

    /// Where the files are, for logs (never a credential).
    pub fn location(&self) -> &str {
        &self.location
    }

    fn path(digest: &Digest) -> ObjectPath {
        // Two hex digits of fan-out keep directories small.
        let hex = digest.as_str();
        ObjectPath::from(format!("{}/{hex}.jpg", &hex[..2]))
    }

    /// Stores `bytes` under `digest` (their SHA-256). Storing the same
    /// file again is harmless: the name can only ever hold these bytes.
    pub async fn put(&self, digest: &Digest, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.inner
            .put(&Self::path(digest), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// The file stored under `digest`.
    pub async fn get(&self, digest: &Digest) -> Result<Bytes, StoreError> {
        let found = self.inner.get(&Self::path(digest)).await?;
        Ok(found.bytes().await?)
    }

    /// Removes the file under `digest`; one already gone is not an error.
    pub async fn delete(&self, digest: &Digest) -> Result<(), StoreError> {
        match self.inner.delete(&Self::path(digest)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(StoreError::Backend(e)),
        }
    }

    /// Whether the store answers (a missing file is an answer).
    pub async fn check(&self) -> Result<(), StoreError> {
        let probe = Digest::of(b"sitga readiness probe");
        match self.inner.head(&Self::path(&probe)).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(StoreError::Backend(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_directory_keeps_files_by_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = PhotoStore::from_setting(None, dir.path()).unwrap();
        let bytes = b"fish".to_vec();
        let digest = Digest::of(&bytes);
        assert!(matches!(
            store.get(&digest).await,
            Err(StoreError::NotFound)
        ));
        store.put(&digest, bytes.clone()).await.unwrap();
        store.put(&digest, bytes.clone()).await.unwrap();
        assert_eq!(store.get(&digest).await.unwrap().as_ref(), bytes.as_slice());
        assert!(
            dir.path()
                .join("photos")
                .join(&digest.as_str()[..2])
                .join(format!("{digest}.jpg"))
                .is_file()
        );
        store.delete(&digest).await.unwrap();
        store.delete(&digest).await.unwrap();
        assert!(matches!(
            store.get(&digest).await,
            Err(StoreError::NotFound)
        ));
        store.check().await.unwrap();
    }

    #[test]
    fn settings_name_a_directory_or_a_bucket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("elsewhere");
        let store = PhotoStore::from_setting(Some(path.to_str().unwrap()), dir.path()).unwrap();
        assert!(store.location().ends_with("elsewhere"));
        assert!(path.is_dir());
        for bad in ["gs://bucket", "s3://", "s3:///x"] {
            assert!(
                matches!(
                    PhotoStore::from_setting(Some(bad), dir.path()),
                    Err(StoreError::Config(_))
                ),
                "{bad}"
            );
        }
    }
}
