//! The bidders' page at `/`, with its script and style sheet named by their
//! content: the page links `app.js?v={hash}`, so a phone keeps those files
//! for a year without asking again, and a new release (new content, new
//! hash) is fetched at once. The page itself is always revalidated.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// The files the page links, under `/assets/web/`.
const VERSIONED: [&str; 2] = ["app.js", "app.css"];

/// How long a versioned file may be kept.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The page with its links versioned, and each file's version.
#[derive(Debug, Clone)]
pub struct WebPage {
    /// `index.html` with `?v=` on the versioned links.
    pub html: String,
    versions: Arc<HashMap<String, String>>,
}

impl WebPage {
    /// Reads `{assets}/web/`; `None` (logged) when a file is missing.
    pub fn load(assets: &Path) -> Option<Self> {
        let dir = assets.join("web");
        let read = |name: &str| match std::fs::read(dir.join(name)) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                tracing::warn!(error = %e, file = name, "the bidders' page is not served");
                None
            }
        };
        let mut html = String::from_utf8(read("index.html")?).ok()?;
        let mut versions = HashMap::new();
        for name in VERSIONED {
            let version = hex::encode(&Sha256::digest(read(name)?)[..6]);
            let path = format!("/assets/web/{name}");
            html = html.replace(&format!("\"{path}\""), &format!("\"{path}?v={version}\""));
            versions.insert(path, version);
        }
        Some(Self {
            html,
            versions: Arc::new(versions),
        })
    }

    /// Whether `path?query` names a versioned file at its current version
    /// (which may be kept for a year).
    pub fn is_current(&self, path: &str, query: &str) -> bool {
        self.versions.get(path).is_some_and(|version| {
            query
                .split('&')
                .any(|pair| pair.strip_prefix("v=") == Some(version.as_str()))
        })
    }
}
