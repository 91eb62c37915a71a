//! The input contract: decode (JPEG/PNG/WebP), apply the EXIF orientation,
//! RGB, Lanczos-3 resize to the backbone's size, scale to [0, 1], NHWC
//! float32.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, RgbImage};
use ndarray::Array4;

/// Largest decoded image accepted (pixels), against decompression bombs.
pub const MAX_PIXELS: u64 = 40_000_000;

/// Most memory one decode may allocate: a 40 MP photo with 8 bits per
/// channel and alpha (160 MB) fits; the same with 16 bits per channel
/// (320 MB, no camera sends it) does not.
pub const MAX_DECODE_BYTES: u64 = 200 * 1024 * 1024;

/// Why an upload cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// Not a JPEG, PNG or WebP image.
    #[error("not a JPEG, PNG or WebP image")]
    UnsupportedFormat,
    /// The image data is damaged.
    #[error("the image cannot be decoded: {0}")]
    Corrupt(String),
    /// Too many pixels, or too much memory to decode.
    #[error("the image is too large ({0} pixels; at most 40 megapixels of 8-bit colour)")]
    TooLarge(u64),
}

fn orientation(bytes: &[u8]) -> u32 {
    exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()
        .and_then(|e| {
            e.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
                .and_then(|f| f.value.get_uint(0))
        })
        .unwrap_or(1)
}

fn orient(img: DynamicImage, code: u32) -> DynamicImage {
    match code {
        2 => img.fliph(),
        3 => img.rotate180(),
        4 => img.flipv(),
        5 => img.rotate90().fliph(),
        6 => img.rotate90(),
        7 => img.rotate270().fliph(),
        8 => img.rotate270(),
        _ => img,
    }
}

/// Decodes an upload and turns it into the model's input tensor
/// `[1, height, width, 3]`.
pub fn decode_and_preprocess(
    bytes: &[u8],
    width: u32,
    height: u32,
) -> Result<Array4<f32>, PreprocessError> {
    decode_within(bytes, width, height, MAX_DECODE_BYTES)
}

fn decode_within(
    bytes: &[u8],
    width: u32,
    height: u32,
    max_alloc: u64,
) -> Result<Array4<f32>, PreprocessError> {
    preprocess_rgb(
        &decode_rgb_within(bytes, width, height, max_alloc)?,
        width,
        height,
    )
}

/// Decodes an upload to upright RGB pixels for a `width` × `height` model
/// input: a JPEG at the smallest DCT scale that still covers it, anything
/// else whole. What [`decode_and_preprocess`] resizes.
pub fn decode_rgb_for(bytes: &[u8], width: u32, height: u32) -> Result<RgbImage, PreprocessError> {
    decode_rgb_within(bytes, width, height, MAX_DECODE_BYTES)
}

fn decode_rgb_within(
    bytes: &[u8],
    width: u32,
    height: u32,
    max_alloc: u64,
) -> Result<RgbImage, PreprocessError> {
    if let Some(rgb) = decode_jpeg_scaled(bytes, width, height, max_alloc)? {
        return Ok(rgb);
    }
    // `into_rgb8` keeps the buffer when it already is RGB8 (the usual JPEG).
    Ok(decode_limited(bytes, max_alloc)?.into_rgb8())
}

/// The largest of 1/8, 1/4 and 1/2 at which a `w` × `h` JPEG still covers
/// `need_w` × `need_h` (1 when none does).
fn dct_divisor(w: u32, h: u32, need_w: u32, need_h: u32) -> u32 {
    [8, 4, 2]
        .into_iter()
        .find(|d| w.div_ceil(*d) >= need_w && h.div_ceil(*d) >= need_h)
        .unwrap_or(1)
}

/// A JPEG decoded at the smallest DCT scale (1/8, 1/4 or 1/2) that still
/// covers the model's input once turned upright: a 12-megapixel phone photo
/// is decoded as 504 × 378 instead of being decoded whole and thrown away
/// by the resize. `None` for anything else (another format, a photo too
/// small to scale, CMYK or 16-bit colour): the full decoder takes those.
fn decode_jpeg_scaled(
    bytes: &[u8],
    width: u32,
    height: u32,
    max_alloc: u64,
) -> Result<Option<RgbImage>, PreprocessError> {
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(None);
    }
    if !jpeg_is_complete(bytes) {
        return Err(PreprocessError::Corrupt(
            "the JPEG is cut short (no end of image after its last scan)".into(),
        ));
    }
    let corrupt = |e: jpeg_decoder::Error| PreprocessError::Corrupt(e.to_string());
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.read_info().map_err(corrupt)?;
    let Some(info) = decoder.info() else {
        return Ok(None);
    };
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let pixels = u64::from(w) * u64::from(h);
    if w == 0 || h == 0 || pixels > MAX_PIXELS {
        // The full decoder says what is wrong with it.
        return Ok(None);
    }
    let gray = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => false,
        jpeg_decoder::PixelFormat::L8 => true,
        _ => return Ok(None),
    };
    let code = orientation(bytes);
    // Orientations 5 to 8 turn the picture a quarter: its width becomes the
    // model's height.
    let (need_w, need_h) = if (5..=8).contains(&code) {
        (height, width)
    } else {
        (width, height)
    };
    let divisor = dct_divisor(w, h, need_w, need_h);
    if divisor == 1 {
        return Ok(None);
    }
    let size = |v: u32| u16::try_from(v.div_ceil(divisor)).unwrap_or(u16::MAX);
    decoder.set_max_decoding_buffer_size(usize::try_from(max_alloc).unwrap_or(usize::MAX));
    let (sw, sh) = decoder.scale(size(w), size(h)).map_err(corrupt)?;
    let data = decoder.decode().map_err(corrupt)?;
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    let image = if gray {
        image::GrayImage::from_raw(sw, sh, data).map(DynamicImage::ImageLuma8)
    } else {
        RgbImage::from_raw(sw, sh, data).map(DynamicImage::ImageRgb8)
    };
    let image = image.ok_or_else(|| {
        PreprocessError::Corrupt("the JPEG decoded to fewer pixels than it declares".into())
    })?;
    Ok(Some(orient(image, code).into_rgb8()))
}

/// Decodes an upload (JPEG, PNG or WebP) within [`MAX_PIXELS`] and
/// [`MAX_DECODE_BYTES`], the dimensions checked before any pixel is
/// decoded, and turns it upright by its EXIF orientation. The result
/// carries pixels only: no EXIF, GPS or other metadata survives it.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, PreprocessError> {
    decode_limited(bytes, MAX_DECODE_BYTES)
}

fn decode_limited(bytes: &[u8], max_alloc: u64) -> Result<DynamicImage, PreprocessError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PreprocessError::Corrupt(e.to_string()))?;
    match reader.format() {
        Some(ImageFormat::Jpeg) if !jpeg_is_complete(bytes) => {
            return Err(PreprocessError::Corrupt(
                "the JPEG is cut short (no end of image after its last scan)".into(),
            ));
        }
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP) => {}
        _ => return Err(PreprocessError::UnsupportedFormat),
    }
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| PreprocessError::Corrupt(e.to_string()))?;
    if w == 0 || h == 0 {
        return Err(PreprocessError::Corrupt(format!(
            "the image is {w} × {h} pixels"
        )));
    }
    let pixels = u64::from(w) * u64::from(h);
    if pixels > MAX_PIXELS {
        return Err(PreprocessError::TooLarge(pixels));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PreprocessError::Corrupt(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    limits.max_alloc = Some(max_alloc);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => PreprocessError::TooLarge(pixels),
        e => PreprocessError::Corrupt(e.to_string()),
    })?;
    Ok(orient(img, orientation(bytes)))
}

/// Whether a JPEG's last scan is followed by an end-of-image marker. The
/// decoder fills a cut-short file with grey rather than failing, so a
/// truncated upload would otherwise be stored as a half-grey photo. Inside
/// scan data a 0xFF byte is always followed by 0x00 or a restart marker, so
/// `FF DA` (start of scan) and `FF D9` (end of image) there are real
/// markers; bytes a camera appends after the end (a motion-photo trailer)
/// change nothing.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_scan {
        Some(at) => bytes[at..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false,
    }
}

/// Resizes an RGB image (Lanczos-3 convolution, SIMD, by
/// `fast_image_resize`) and scales it to the input tensor. Training and
/// serving both come through here, so they see the same pixels.
pub fn preprocess_rgb(
    rgb: &RgbImage,
    width: u32,
    height: u32,
) -> Result<Array4<f32>, PreprocessError> {
    resize_to_tensor(rgb, 1.0, width, height)
}

/// Like [`preprocess_rgb`], of the centred part of the image that keeps
/// `keep` (0 to 1) of its width and of its height: a closer framing of
/// the same photo, which training adds as one more view of it.
pub fn preprocess_centre_crop(
    rgb: &RgbImage,
    keep: f32,
    width: u32,
    height: u32,
) -> Result<Array4<f32>, PreprocessError> {
    resize_to_tensor(rgb, keep, width, height)
}

fn resize_to_tensor(
    rgb: &RgbImage,
    keep: f32,
    width: u32,
    height: u32,
) -> Result<Array4<f32>, PreprocessError> {
    use fast_image_resize::images::{Image, ImageRef};
    use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
    let failed = |e: &dyn std::fmt::Display| PreprocessError::Corrupt(e.to_string());
    let source = ImageRef::new(rgb.width(), rgb.height(), rgb.as_raw(), PixelType::U8x3)
        .map_err(|e| failed(&e))?;
    let mut resized = Image::new(width, height, PixelType::U8x3);
    let mut options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    let keep = f64::from(keep.clamp(0.05, 1.0));
    if keep < 1.0 {
        let (w, h) = (f64::from(rgb.width()), f64::from(rgb.height()));
        let (cw, ch) = (w * keep, h * keep);
        options = options.crop((w - cw) / 2.0, (h - ch) / 2.0, cw, ch);
    }
    Resizer::new()
        .resize(&source, &mut resized, &options)
        .map_err(|e| failed(&e))?;
    let data: Vec<f32> = resized
        .buffer()
        .iter()
        .map(|&b| f32::from(b) / 255.0)
        .collect();
    Array4::from_shape_vec((1, height as usize, width as usize, 3), data)
        .map_err(|e| PreprocessError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn the_centre_crop_leaves_the_edges_out() {
        // A blue photo in a red frame a tenth of each side wide.
        let img = RgbImage::from_fn(200, 100, |x, y| {
            let frame = !(20..180).contains(&x) || !(10..90).contains(&y);
            if frame {
                image::Rgb([255, 0, 0])
            } else {
                image::Rgb([0, 0, 255])
            }
        });
        let whole = preprocess_rgb(&img, 70, 40).unwrap();
        let crop = preprocess_centre_crop(&img, 0.75, 70, 40).unwrap();
        assert_eq!(crop.shape(), &[1, 40, 70, 3]);
        let red = |t: &Array4<f32>| t.iter().step_by(3).filter(|v| **v > 0.5).count();
        assert!(red(&whole) > 300, "the whole photo shows its frame");
        assert_eq!(red(&crop), 0, "the crop shows none of it");
    }

    #[test]
    fn shape_and_range() {
        let img = RgbImage::from_fn(640, 480, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let t = decode_and_preprocess(&png(&img), 350, 200).unwrap();
        assert_eq!(t.shape(), &[1, 200, 350, 3]);
        assert!(t.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn rejects_non_images_and_unsupported_formats() {
        assert!(matches!(
            decode_and_preprocess(b"hello", 350, 200),
            Err(PreprocessError::UnsupportedFormat)
        ));
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        assert!(matches!(
            decode_and_preprocess(gif, 350, 200),
            Err(PreprocessError::UnsupportedFormat)
        ));
        let mut truncated = png(&RgbImage::new(64, 64));
        truncated.truncate(40);
        assert!(matches!(
            decode_and_preprocess(&truncated, 350, 200),
            Err(PreprocessError::Corrupt(_))
        ));
    }

    #[test]
    fn decoding_stops_at_the_memory_limit() {
        // 1000 × 1000 with 16-bit RGBA needs 8 MB; RGB8 needs 3 MB.
        let deep = image::ImageBuffer::<image::Rgba<u16>, _>::new(1000, 1000);
        let mut deep_png = Vec::new();
        DynamicImage::ImageRgba16(deep)
            .write_to(&mut Cursor::new(&mut deep_png), ImageFormat::Png)
            .unwrap();
        let plain_png = png(&RgbImage::new(1000, 1000));
        let limit = 4 * 1024 * 1024;
        assert!(matches!(
            decode_within(&deep_png, 350, 200, limit),
            Err(PreprocessError::TooLarge(1_000_000))
        ));
        assert!(decode_within(&plain_png, 350, 200, limit).is_ok());
        // The real limit takes the deep image too.
        assert!(decode_and_preprocess(&deep_png, 350, 200).is_ok());
    }

    #[test]
    fn a_cut_short_jpeg_is_corrupt() {
        let img = RgbImage::from_fn(300, 200, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut jpeg = Vec::new();
        img.write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        assert!(decode(&jpeg).is_ok());
        let mut trailer = jpeg.clone();
        trailer.extend_from_slice(b"MotionPhoto_Data\x00\x01");
        assert!(decode(&trailer).is_ok(), "bytes after the end are ignored");
        for cut in [jpeg.len() - 2, jpeg.len() / 2, 700] {
            assert!(
                matches!(decode(&jpeg[..cut]), Err(PreprocessError::Corrupt(_))),
                "cut at {cut} of {}",
                jpeg.len()
            );
        }
    }

    #[test]
    fn a_jpeg_is_decoded_at_the_smallest_scale_that_covers_the_model() {
        assert_eq!(dct_divisor(4032, 3024, 350, 200), 8);
        assert_eq!(dct_divisor(1600, 1200, 350, 200), 4);
        // Turned a quarter, the same photo must cover 200 × 350.
        assert_eq!(dct_divisor(1600, 1200, 200, 350), 2);
        assert_eq!(dct_divisor(640, 480, 350, 200), 1);
        assert_eq!(dct_divisor(3000, 500, 350, 200), 2);

        let img = RgbImage::from_fn(1600, 1200, |x, y| {
            image::Rgb([
                (x / 7 % 256) as u8,
                (y / 5 % 256) as u8,
                ((x + y) / 11 % 256) as u8,
            ])
        });
        let mut jpeg = Vec::new();
        img.write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        let scaled = decode_jpeg_scaled(&jpeg, 350, 200, MAX_DECODE_BYTES)
            .unwrap()
            .unwrap();
        assert_eq!(scaled.dimensions(), (400, 300));
        // The tensor it gives is the full decode's, within a few levels.
        let fast = preprocess_rgb(&scaled, 350, 200).unwrap();
        let full = preprocess_rgb(&decode(&jpeg).unwrap().into_rgb8(), 350, 200).unwrap();
        let mean = fast
            .iter()
            .zip(&full)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / fast.len() as f32;
        assert!(
            mean * 255.0 < 2.0,
            "mean difference {} levels",
            mean * 255.0
        );
        assert_eq!(decode_and_preprocess(&jpeg, 350, 200).unwrap(), fast);
        // Not a JPEG, or too small to scale: the full decoder's.
        assert!(
            decode_jpeg_scaled(&png(&img), 350, 200, MAX_DECODE_BYTES)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn exif_orientation_codes_rotate() {
        let img = DynamicImage::ImageRgb8(RgbImage::new(30, 10));
        assert_eq!(orient(img.clone(), 6).width(), 10);
        assert_eq!(orient(img.clone(), 8).height(), 30);
        assert_eq!(orient(img, 1).width(), 30);
    }
}
