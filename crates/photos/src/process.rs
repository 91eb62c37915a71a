//! From an upload to its three cleaned sizes.

use std::fmt;
use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, RgbImage, Rgba, RgbaImage};
use sha2::{Digest as _, Sha256};
use sitga_inference::PreprocessError;

/// The sizes each photo is kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Size {
    /// For lists: the longest side at most 400 px.
    Thumb,
    /// For an auction's page: the longest side at most 1,280 px.
    Display,
    /// The whole picture, upright and without metadata.
    Original,
}

impl Size {
    /// Every size, smallest first.
    pub const ALL: [Size; 3] = [Size::Thumb, Size::Display, Size::Original];

    /// The name in URLs and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Size::Thumb => "thumb",
            Size::Display => "display",
            Size::Original => "original",
        }
    }

    /// The size a URL names.
    pub fn parse(s: &str) -> Option<Size> {
        Size::ALL.into_iter().find(|size| size.as_str() == s)
    }

    /// The longest side this size allows (`None`: as uploaded).
    pub fn longest_side(self) -> Option<u32> {
        match self {
            Size::Thumb => Some(400),
            Size::Display => Some(1280),
            Size::Original => None,
        }
    }

    fn quality(self) -> u8 {
        match self {
            Size::Thumb => 80,
            Size::Display => 85,
            Size::Original => 92,
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The SHA-256 of a stored file's bytes: its name in the store and its
/// strong `ETag`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest(String);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(hex::encode(Sha256::digest(bytes)))
    }

    /// A digest read back from storage; `None` unless 64 lowercase hex digits.
    pub fn parse(s: &str) -> Option<Digest> {
        (s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Digest(s.to_owned()))
    }

    /// The 64 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One size of a photo, encoded.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Which size.
    pub size: Size,
    /// JPEG bytes.
    pub bytes: Vec<u8>,
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
    /// SHA-256 of `bytes`.
    pub digest: Digest,
}

/// A processed upload: its upright dimensions and its sizes.
#[derive(Debug, Clone)]
pub struct Processed {
    /// Upright width of the original.
    pub width: u32,
    /// Upright height of the original.
    pub height: u32,
    /// One per [`Size`], in [`Size::ALL`] order.
    pub variants: [Variant; 3],
}

impl Processed {
    /// The variant of `size`.
    pub fn variant(&self, size: Size) -> &Variant {
        let [thumb, display, original] = &self.variants;
        match size {
            Size::Thumb => thumb,
            Size::Display => display,
            Size::Original => original,
        }
    }
}

/// Why an upload cannot become a photo.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// Not an image we read, damaged, or too large to decode.
    #[error(transparent)]
    Image(#[from] PreprocessError),
    /// Re-encoding failed (a bug, not the upload's fault).
    #[error("cannot encode the photo: {0}")]
    Encode(String),
}

/// Decodes `bytes` (JPEG, PNG or WebP) with limits, turns it upright, lays
/// any transparency over white, and encodes each [`Size`] as a JPEG from
/// the pixels alone (no EXIF, GPS, XMP or ICC data is carried over). Never
/// enlarges: a small photo's sizes are the photo itself.
///
/// CPU-bound (tens of milliseconds for a phone photo): call it off the
/// async runtime's workers.
pub fn process(bytes: &[u8]) -> Result<Processed, PhotoError> {
    let upright = flatten(sitga_inference::decode(bytes)?);
    let (width, height) = upright.dimensions();
    let display = shrink(&upright, Size::Display);
    let thumb = shrink(display.as_ref().unwrap_or(&upright), Size::Thumb);
    let variants = [
        encode(
            thumb.as_ref().or(display.as_ref()).unwrap_or(&upright),
            Size::Thumb,
        )?,
        encode(display.as_ref().unwrap_or(&upright), Size::Display)?,
        encode(&upright, Size::Original)?,
    ];
    Ok(Processed {
        width,
        height,
        variants,
    })
}

/// RGB, with transparent parts over white (a PNG cut-out on a white page).
fn flatten(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let mut white = RgbaImage::from_pixel(rgba.width(), rgba.height(), Rgba([255, 255, 255, 255]));
    image::imageops::overlay(&mut white, &rgba, 0, 0);
    DynamicImage::ImageRgba8(white).into_rgb8()
}

/// `img` scaled down to fit `size`, or `None` when it fits already.
fn shrink(img: &RgbImage, size: Size) -> Option<RgbImage> {
    let longest = size.longest_side()?;
    let (w, h) = img.dimensions();
    if w.max(h) <= longest {
        return None;
    }
    let (nw, nh) = fit(w, h, longest);
    Some(image::imageops::thumbnail(img, nw, nh))
}

/// Dimensions with the longest side `longest`, the aspect kept (rounded,
/// never below one pixel).
fn fit(w: u32, h: u32, longest: u32) -> (u32, u32) {
    let scale = |side: u32, other: u32| -> u32 {
        let scaled =
            (u64::from(side) * u64::from(longest) + u64::from(other) / 2) / u64::from(other);
        u32::try_from(scaled).unwrap_or(longest).max(1)
    };
    if w >= h {
        (longest, scale(h, w))
    } else {
        (scale(w, h), longest)
    }
}

fn encode(img: &RgbImage, size: Size) -> Result<Variant, PhotoError> {
    let mut bytes = Vec::with_capacity(img.as_raw().len() / 8);
    JpegEncoder::new_with_quality(&mut Cursor::new(&mut bytes), size.quality())
        .encode_image(img)
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    Ok(Variant {
        size,
        digest: Digest::of(&bytes),
        width: img.width(),
        height: img.height(),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use image::ImageFormat;

    use super::*;
    use crate::test_support::{has_exif, phone_photo};

    fn png(img: &DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn a_phone_photo_is_turned_upright_and_loses_its_gps() {
        let upload = phone_photo(1600, 1200, 6);
        assert!(has_exif(&upload), "the fixture carries EXIF");
        let photo = process(&upload).unwrap();
        // Orientation 6: stored landscape, shown portrait.
        assert_eq!((photo.width, photo.height), (1200, 1600));
        let sizes: Vec<_> = photo
            .variants
            .iter()
            .map(|v| (v.size, v.width, v.height))
            .collect();
        assert_eq!(
            sizes,
            [
                (Size::Thumb, 300, 400),
                (Size::Display, 960, 1280),
                (Size::Original, 1200, 1600)
            ]
        );
        for v in &photo.variants {
            assert!(!has_exif(&v.bytes), "{} still has EXIF", v.size);
            assert_eq!(v.digest, Digest::of(&v.bytes));
            // Rotated clockwise: the red left half is now on top.
            let decoded = image::load_from_memory(&v.bytes).unwrap().into_rgb8();
            let top = decoded.get_pixel(v.width / 2, v.height / 8);
            let bottom = decoded.get_pixel(v.width / 2, v.height * 7 / 8);
            assert!(top[0] > 150 && top[2] < 100, "{}: top is {top:?}", v.size);
            assert!(
                bottom[2] > 150 && bottom[0] < 100,
                "{}: bottom is {bottom:?}",
                v.size
            );
        }
    }

    #[test]
    fn small_photos_are_never_enlarged_and_transparency_is_white() {
        let mut img = RgbaImage::from_pixel(120, 80, Rgba([0, 0, 0, 0]));
        img.put_pixel(0, 0, Rgba([10, 200, 10, 255]));
        let photo = process(&png(&DynamicImage::ImageRgba8(img))).unwrap();
        for v in &photo.variants {
            assert_eq!((v.width, v.height), (120, 80));
        }
        // The same pixels at the same quality: one stored file serves both.
        let original = image::load_from_memory(&photo.variant(Size::Original).bytes)
            .unwrap()
            .into_rgb8();
        let corner = original.get_pixel(60, 40);
        assert!(
            corner.0.iter().all(|c| *c > 240),
            "transparent became {corner:?}"
        );
    }

    #[test]
    fn unusable_uploads_are_refused_with_their_reason() {
        assert!(matches!(
            process(b"not an image at all"),
            Err(PhotoError::Image(PreprocessError::UnsupportedFormat))
        ));
        let mut truncated = png(&DynamicImage::ImageRgb8(RgbImage::new(64, 64)));
        truncated.truncate(60);
        assert!(matches!(
            process(&truncated),
            Err(PhotoError::Image(PreprocessError::Corrupt(_)))
        ));
    }

    #[test]
    fn fit_keeps_the_aspect() {
        assert_eq!(fit(4000, 3000, 400), (400, 300));
        assert_eq!(fit(3000, 4000, 1280), (960, 1280));
        assert_eq!(fit(10_000, 3, 400), (400, 1));
        assert_eq!(fit(500, 500, 400), (400, 400));
    }

    #[test]
    fn sizes_and_digests_parse_only_what_they_print() {
        for size in Size::ALL {
            assert_eq!(Size::parse(size.as_str()), Some(size));
        }
        assert_eq!(Size::parse("huge"), None);
        let d = Digest::of(b"x");
        assert_eq!(Digest::parse(d.as_str()), Some(d));
        assert_eq!(Digest::parse("../etc/passwd"), None);
        assert_eq!(Digest::parse(&"A".repeat(64)), None);
    }
}
