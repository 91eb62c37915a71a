//! Lanczos resampling that reproduces Pillow's `Image.resize(…, LANCZOS)`
//! bit for bit on 8-bit RGB, so the served model sees exactly the tensors it
//! was trained on (the training pipeline uses Pillow). Pillow's algorithm:
//! separable convolution, horizontal pass first, coefficients normalised and
//! turned into 22-bit fixed point, rounding half up, clipping to 0..=255.

use std::f64::consts::PI;

const PRECISION_BITS: u32 = 32 - 8 - 2;
const SUPPORT: f64 = 3.0;

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        (x * PI).sin() / (x * PI)
    }
}

fn lanczos(x: f64) -> f64 {
    if (-SUPPORT..SUPPORT).contains(&x) {
        sinc(x) * sinc(x / SUPPORT)
    } else {
        0.0
    }
}

/// Per output position: the first input index and fixed-point weights.
struct Coefficients {
    bounds: Vec<(usize, usize)>,
    weights: Vec<Vec<i32>>,
}

fn coefficients(in_size: usize, out_size: usize) -> Coefficients {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = SUPPORT * filterscale;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = Vec::with_capacity(out_size);
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // Pillow truncates toward zero here (C int cast).
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax =
            (((center + support + 0.5) as i64).min(in_size as i64) as usize).saturating_sub(xmin);
        let mut k: Vec<f64> = (0..xmax)
            .map(|x| lanczos((x as f64 + xmin as f64 - center + 0.5) * ss))
            .collect();
        let total: f64 = k.iter().sum();
        if total != 0.0 {
            for w in &mut k {
                *w /= total;
            }
        }
        let fixed = k
            .iter()
            .map(|&w| {
                let scaled = w * f64::from(1u32 << PRECISION_BITS);
                if w < 0.0 {
                    (-0.5 + scaled) as i32
                } else {
                    (0.5 + scaled) as i32
                }
            })
            .collect();
        bounds.push((xmin, xmax));
        weights.push(fixed);
    }
    Coefficients { bounds, weights }
}

fn clip8(acc: i64) -> u8 {
    let v = acc >> PRECISION_BITS;
    v.clamp(0, 255) as u8
}

/// Resizes packed RGB8 `src` (`w`×`h`) to `out_w`×`out_h`.
pub fn resize_rgb8(src: &[u8], w: usize, h: usize, out_w: usize, out_h: usize) -> Vec<u8> {
    let half = 1i64 << (PRECISION_BITS - 1);
    let vertical = coefficients(h, out_h);
    // Only the rows the vertical pass reads.
    let first_row = vertical.bounds.first().map_or(0, |b| b.0);
    let last_row = vertical.bounds.last().map_or(h, |b| b.0 + b.1);
    let rows = last_row - first_row;
    let horizontal_needed = w != out_w;
    let temp: Vec<u8>;
    let (temp_w, temp_src, temp_first) = if horizontal_needed {
        let horizontal = coefficients(w, out_w);
        let mut t = vec![0u8; out_w * rows * 3];
        for y in 0..rows {
            let row = &src[(first_row + y) * w * 3..(first_row + y + 1) * w * 3];
            for (xx, ((xmin, xmax), k)) in horizontal
                .bounds
                .iter()
                .zip(&horizontal.weights)
                .enumerate()
            {
                for c in 0..3 {
                    let mut acc = half;
                    for (x, &wk) in k.iter().enumerate().take(*xmax) {
                        acc += i64::from(row[(xmin + x) * 3 + c]) * i64::from(wk);
                    }
                    t[(y * out_w + xx) * 3 + c] = clip8(acc);
                }
            }
        }
        temp = t;
        (out_w, temp.as_slice(), first_row)
    } else {
        (w, src, 0)
    };
    if h == out_h {
        return temp_src[..out_w * out_h * 3].to_vec();
    }
    let mut out = vec![0u8; out_w * out_h * 3];
    for (yy, ((ymin, ymax), k)) in vertical.bounds.iter().zip(&vertical.weights).enumerate() {
        let base = ymin - temp_first;
        for x in 0..out_w {
            for c in 0..3 {
                let mut acc = half;
                for (y, &wk) in k.iter().enumerate().take(*ymax) {
                    acc += i64::from(temp_src[((base + y) * temp_w + x) * 3 + c]) * i64::from(wk);
                }
                out[(yy * out_w + x) * 3 + c] = clip8(acc);
            }
        }
    }
    out
}
