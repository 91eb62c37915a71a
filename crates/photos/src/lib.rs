//! Catch photos.
//!
//! An upload is decoded within limits and turned upright by its EXIF
//! orientation ([`sitga_inference::decode`]), then re-encoded from its
//! pixels alone, so nothing of the file's metadata survives: a catch
//! photo's GPS position would tell everyone the angler's spot. Each photo is
//! kept in three sizes ([`Size`]), each stored under the SHA-256 of its
//! bytes ([`Digest`]) in a [`PhotoStore`]: a directory or an S3-compatible
//! bucket.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut png = Vec::new();
//! image::RgbImage::from_pixel(1600, 900, image::Rgb([20, 90, 160]))
//!     .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
//! let photo = sitga_photos::process(&png)?;
//! assert_eq!((photo.width, photo.height), (1600, 900));
//! let thumb = photo.variant(sitga_photos::Size::Thumb);
//! assert_eq!((thumb.width, thumb.height), (400, 225));
//! # Ok(()) }
//! ```

mod process;
mod store;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

pub use process::{Digest, PhotoError, Processed, Size, Variant, process};
pub use store::{PhotoStore, StoreError};

/// Largest upload accepted, in bytes.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

/// What a photo id looks like: 32 lowercase hex digits (random, so a
/// photo's URL cannot be guessed from another's).
pub const PHOTO_ID_PATTERN: &str = "^[0-9a-f]{32}$";

/// Whether `s` has the form of a photo id ([`PHOTO_ID_PATTERN`]).
pub fn is_photo_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
