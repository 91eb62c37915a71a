//! Fixtures for tests of code that takes photos (feature `test-support`).

// Fixtures: a failure here is a broken test, and should stop it loudly.
#![allow(clippy::unwrap_used)]

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};

/// A JPEG of `w` × `h` with an EXIF block holding `orientation` and a
/// GPS position, as a phone writes it: its left half red, its right half
/// blue.
pub fn phone_photo(w: u32, h: u32, orientation: u16) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, _| {
        if x < w / 2 {
            Rgb([200, 30, 30])
        } else {
            Rgb([30, 30, 200])
        }
    });
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut Cursor::new(&mut jpeg), 90)
        .encode_image(&img)
        .unwrap();
    let mut writer = exif::experimental::Writer::new();
    let orient = exif::Field {
        tag: exif::Tag::Orientation,
        ifd_num: exif::In::PRIMARY,
        value: exif::Value::Short(vec![orientation]),
    };
    let lat = exif::Field {
        tag: exif::Tag::GPSLatitude,
        ifd_num: exif::In::PRIMARY,
        value: exif::Value::Rational(vec![
            exif::Rational { num: 33, denom: 1 },
            exif::Rational { num: 30, denom: 1 },
            exif::Rational { num: 0, denom: 1 },
        ]),
    };
    writer.push_field(&orient);
    writer.push_field(&lat);
    let mut tiff = Cursor::new(Vec::new());
    writer.write(&mut tiff, false).unwrap();
    let tiff = tiff.into_inner();
    // APP1 "Exif\0\0" + TIFF, right after SOI.
    let mut app1 = vec![0xFF, 0xE1];
    let len = u16::try_from(tiff.len() + 8).unwrap();
    app1.extend_from_slice(&len.to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

pub fn has_exif(bytes: &[u8]) -> bool {
    exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .is_ok()
}
