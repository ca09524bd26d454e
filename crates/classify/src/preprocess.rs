//! torchvision's evaluation transform, reproduced exactly:
//! `Resize(s)` (shorter side to `s`, PIL bilinear with antialiasing), `CenterCrop(h, w)`,
//! `ToTensor()`, `Normalize(mean, std)`.
//!
//! The resize is Pillow's `ImagingResample` for 8-bit images: a separable filter
//! (horizontal pass, then vertical) whose support widens with the down-scaling factor,
//! coefficients normalised to sum to one and converted to 22-bit fixed point, and
//! an intermediate image rounded to `u8` between the passes. Same integer arithmetic,
//! same bytes as PIL. Only the rows and columns that survive the centre crop are
//! computed, which gives identical values for a fraction of the work.

use atelier_infer::{InputSpec, Tensor};

/// Why an image could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// The pixel buffer does not match the stated size.
    #[error("an RGB image of {width}x{height} needs {expected} bytes, got {got}")]
    BufferSize {
        /// Stated width.
        width: u32,
        /// Stated height.
        height: u32,
        /// Bytes needed.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// The image has no pixels.
    #[error("the image is empty ({width}x{height})")]
    Empty {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// The transform's parameters are unusable.
    #[error("unsupported preprocessing: {0}")]
    Unsupported(String),
}

/// A borrowed 8-bit RGB image, rows top to bottom, `width * height * 3` bytes.
#[derive(Debug, Clone, Copy)]
pub struct RgbImage<'a> {
    width: u32,
    height: u32,
    data: &'a [u8],
}

impl<'a> RgbImage<'a> {
    /// Wraps a packed RGB buffer, checking its length.
    pub fn new(width: u32, height: u32, data: &'a [u8]) -> Result<Self, PreprocessError> {
        let expected = width as usize * height as usize * 3;
        if width == 0 || height == 0 {
            return Err(PreprocessError::Empty { width, height });
        }
        if data.len() != expected {
            return Err(PreprocessError::BufferSize {
                width,
                height,
                expected,
                got: data.len(),
            });
        }
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }
}

/// The transform's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    /// The shorter side is resized to this.
    pub resize_shorter: u32,
    /// Crop height.
    pub crop_height: u32,
    /// Crop width.
    pub crop_width: u32,
    /// Per-channel mean (after scaling to [0, 1]).
    pub mean: [f32; 3],
    /// Per-channel standard deviation.
    pub std: [f32; 3],
}

impl Preprocess {
    /// torchvision's ImageNet evaluation transform (256, 224, ImageNet mean/std).
    pub fn imagenet() -> Self {
        Self {
            resize_shorter: 256,
            crop_height: 224,
            crop_width: 224,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        }
    }

    /// The transform a manifest entry describes.
    pub fn from_spec(spec: &InputSpec) -> Result<Self, PreprocessError> {
        if spec.interpolation != "bilinear-antialias" {
            return Err(PreprocessError::Unsupported(format!(
                "interpolation {}",
                spec.interpolation
            )));
        }
        if spec.layout != "NCHW" || spec.channels != "RGB" {
            return Err(PreprocessError::Unsupported(format!(
                "layout {} / channels {}",
                spec.layout, spec.channels
            )));
        }
        if spec.resize_shorter == 0 || spec.std.contains(&0.0) {
            return Err(PreprocessError::Unsupported("zero resize or std".into()));
        }
        Ok(Self {
            resize_shorter: spec.resize_shorter,
            crop_height: spec.height,
            crop_width: spec.width,
            mean: spec.mean,
            std: spec.std,
        })
    }

    /// Resizes and centre-crops: the `u8` RGB pixels PIL would produce.
    pub fn resize_crop(&self, image: RgbImage<'_>) -> Result<Vec<u8>, PreprocessError> {
        let (w, h) = (image.width as usize, image.height as usize);
        let (new_w, new_h) = resized_size(w, h, self.resize_shorter as usize);
        let (cw, ch) = (self.crop_width as usize, self.crop_height as usize);
        if cw > new_w || ch > new_h {
            // torchvision pads in this case; no classifier here needs it.
            return Err(PreprocessError::Unsupported(format!(
                "crop {cw}x{ch} larger than the resized {new_w}x{new_h} image"
            )));
        }
        let left = round_half_even((new_w - cw) as f64 / 2.0);
        let top = round_half_even((new_h - ch) as f64 / 2.0);
        Ok(resample(image, new_w, new_h, left, top, cw, ch))
    }

    /// The whole transform: an `[1, 3, crop_height, crop_width]` normalised tensor.
    pub fn apply(&self, image: RgbImage<'_>) -> Result<Tensor, PreprocessError> {
        let pixels = self.resize_crop(image)?;
        let (cw, ch) = (self.crop_width as usize, self.crop_height as usize);
        let plane = cw * ch;
        let mut data = vec![0f32; 3 * plane];
        for (i, px) in pixels.chunks_exact(3).enumerate() {
            for c in 0..3 {
                // torchvision: to float, div 255, then sub mean, div std, all in f32.
                data[c * plane + i] = (f32::from(px[c]) / 255.0 - self.mean[c]) / self.std[c];
            }
        }
        Tensor::new(vec![1, 3, ch, cw], data)
            .map_err(|e| PreprocessError::Unsupported(e.to_string()))
    }
}

/// torchvision's `_compute_resized_output_size` for an int size: the shorter side
/// becomes `size`, the longer `int(size * long / short)`.
pub fn resized_size(w: usize, h: usize, size: usize) -> (usize, usize) {
    let (short, long) = if w <= h { (w, h) } else { (h, w) };
    let new_long = (size as f64 * long as f64 / short as f64) as usize;
    if w <= h {
        (size, new_long)
    } else {
        (new_long, size)
    }
}

/// Python's `round()`: half to even.
fn round_half_even(x: f64) -> usize {
    let r = x.round();
    let r = if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    };
    r.max(0.0) as usize
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Pillow's coefficients for resampling `in_size` to `out_size` with the bilinear
/// (triangle) filter, for the output pixels `first..first + count` only: per output
/// pixel, the first input index, the tap count and the fixed-point weights.
struct Coefficients {
    first: usize,
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

impl Coefficients {
    fn taps(&self, out: usize) -> (usize, &[i32]) {
        let i = out - self.first;
        let (start, n) = self.bounds[i];
        (start, &self.weights[i * self.ksize..i * self.ksize + n])
    }
}

fn precompute(in_size: usize, out_size: usize, first: usize, count: usize) -> Coefficients {
    const SUPPORT: f64 = 1.0;
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = SUPPORT * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let ss = 1.0 / filterscale;
    let mut bounds = Vec::with_capacity(count);
    let mut weights = vec![0i32; count * ksize];
    let mut k = vec![0f64; ksize];
    for (i, xx) in (first..first + count).enumerate() {
        let center = (xx as f64 + 0.5) * scale;
        // C's (int) cast truncates toward zero.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let n = xmax.saturating_sub(xmin).min(ksize);
        let mut ww = 0.0;
        for (x, slot) in k.iter_mut().enumerate().take(n) {
            let t = (((x + xmin) as f64 - center + 0.5) * ss).abs();
            let w = if t < 1.0 { 1.0 - t } else { 0.0 };
            *slot = w;
            ww += w;
        }
        for x in 0..n {
            let v = if ww != 0.0 { k[x] / ww } else { k[x] };
            let f = v * f64::from(1u32 << PRECISION_BITS);
            weights[i * ksize + x] = if v < 0.0 {
                (-0.5 + f) as i32
            } else {
                (0.5 + f) as i32
            };
        }
        bounds.push((xmin, n));
    }
    Coefficients {
        first,
        ksize,
        bounds,
        weights,
    }
}

#[inline]
fn clip8(v: i32) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes `image` to `new_w x new_h` exactly as Pillow does, returning only the
/// `cw x ch` window at (`left`, `top`).
fn resample(
    image: RgbImage<'_>,
    new_w: usize,
    new_h: usize,
    left: usize,
    top: usize,
    cw: usize,
    ch: usize,
) -> Vec<u8> {
    let (w, h) = (image.width as usize, image.height as usize);
    let src = image.data;
    // Coefficients only for the kept columns and rows: a 1x30000 image resized to
    // 256x7680000 costs no more than a square one.
    let horiz = precompute(w, new_w, left, cw);
    let vert = precompute(h, new_h, top, ch);
    // Input rows the kept output rows need.
    let row_first = vert.bounds.iter().map(|b| b.0).min().unwrap_or(0);
    let row_last = vert.bounds.iter().map(|b| b.0 + b.1).max().unwrap_or(0);
    let rows = row_last - row_first;
    // Weights are non-negative and sum to about 2^22, so sums stay below 2^31 as in
    // Pillow's own INT32 arithmetic.
    let half = 1i32 << (PRECISION_BITS - 1);

    // Horizontal pass (Pillow skips it when the width does not change; its identity
    // coefficients give the same bytes).
    let mut temp = vec![0u8; rows * cw * 3];
    for (r, y) in (row_first..row_last).enumerate() {
        let row = &src[y * w * 3..(y + 1) * w * 3];
        let out_row = &mut temp[r * cw * 3..(r + 1) * cw * 3];
        for (j, out) in out_row.chunks_exact_mut(3).enumerate() {
            let (xmin, k) = horiz.taps(left + j);
            let mut acc = [half; 3];
            for (p, &kx) in row[xmin * 3..].chunks_exact(3).zip(k) {
                acc[0] += i32::from(p[0]) * kx;
                acc[1] += i32::from(p[1]) * kx;
                acc[2] += i32::from(p[2]) * kx;
            }
            out[0] = clip8(acc[0]);
            out[1] = clip8(acc[1]);
            out[2] = clip8(acc[2]);
        }
    }

    // Vertical pass.
    let mut out = vec![0u8; ch * cw * 3];
    let mut acc = vec![0i32; cw * 3];
    for (i, out_row) in out.chunks_exact_mut(cw * 3).enumerate() {
        let (ymin, k) = vert.taps(top + i);
        acc.fill(half);
        for (y, &ky) in k.iter().enumerate() {
            let r = ymin + y - row_first;
            let in_row = &temp[r * cw * 3..(r + 1) * cw * 3];
            for (a, &p) in acc.iter_mut().zip(in_row) {
                *a += i32::from(p) * ky;
            }
        }
        for (o, &a) in out_row.iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(w: u32, h: u32, values: &[u8]) -> Vec<u8> {
        assert_eq!(values.len(), (w * h) as usize);
        values.iter().flat_map(|&v| [v, v, v]).collect()
    }

    #[test]
    fn the_resized_size_keeps_the_aspect_ratio_and_truncates_like_torchvision() {
        assert_eq!(resized_size(640, 480, 256), (341, 256));
        assert_eq!(resized_size(480, 640, 256), (256, 341));
        assert_eq!(resized_size(300, 300, 256), (256, 256));
        assert_eq!(resized_size(1, 1000, 256), (256, 256000));
    }

    #[test]
    fn the_centre_crop_offset_rounds_half_to_even_like_python() {
        assert_eq!(round_half_even(0.5), 0);
        assert_eq!(round_half_even(1.5), 2);
        assert_eq!(round_half_even(2.5), 2);
        assert_eq!(round_half_even(16.0), 16);
    }

    #[test]
    fn halving_a_4x4_image_averages_with_the_widened_triangle_filter() {
        // Downscale by 2: support 2, weights over input pixels 0..3 for output 0 are
        // triangle(|x + 0.5 - 1| / 2) = [0.75, 0.75, 0.25] normalised to [3/7, 3/7, 1/7].
        let img = grey(
            4,
            4,
            &[
                0, 70, 140, 210, //
                0, 70, 140, 210, //
                0, 70, 140, 210, //
                0, 70, 140, 210,
            ],
        );
        let p = Preprocess {
            resize_shorter: 2,
            crop_height: 2,
            crop_width: 2,
            mean: [0.0; 3],
            std: [1.0; 3],
        };
        let out = p
            .resize_crop(RgbImage::new(4, 4, &img).expect("valid"))
            .expect("resizes");
        // 0*3/7 + 70*3/7 + 140/7 = 50; 70/7 + 140*3/7 + 210*3/7 = 160.
        let row: Vec<u8> = out.chunks(3).map(|px| px[0]).collect();
        assert_eq!(row, vec![50, 160, 50, 160]);
    }

    #[test]
    fn upscaling_interpolates_between_neighbours() {
        // 2 -> 4 pixels: centres at 0.25, 0.75, 1.25, 1.75 in input units.
        let img = grey(2, 1, &[0, 200]);
        let p = Preprocess {
            resize_shorter: 1,
            crop_height: 1,
            crop_width: 4,
            mean: [0.0; 3],
            std: [1.0; 3],
        };
        // shorter side (height 1) -> 1, width -> int(1 * 2 / 1) = 2: no resize.
        let out = p.resize_crop(RgbImage::new(2, 1, &img).expect("valid"));
        assert!(out.is_err(), "a 4-wide crop of a 2-wide image is refused");
        let p = Preprocess {
            resize_shorter: 2,
            crop_height: 2,
            crop_width: 4,
            ..p
        };
        let out = p
            .resize_crop(RgbImage::new(2, 1, &img).expect("valid"))
            .expect("resizes");
        let row: Vec<u8> = out.chunks(3).take(4).map(|px| px[0]).collect();
        // weights: x=0.25 -> [1, 0] (edge), 0.75 -> [0.75, 0.25], 1.25 -> [0.25, 0.75], 1.75 -> [0, 1]
        assert_eq!(row, vec![0, 50, 150, 200]);
    }

    #[test]
    fn normalisation_matches_torchvision_on_a_4x4_image() {
        let img: Vec<u8> = (0..16u8)
            .flat_map(|i| [i * 16, 255 - i * 16, 128])
            .collect();
        let p = Preprocess {
            resize_shorter: 4,
            crop_height: 2,
            crop_width: 2,
            ..Preprocess::imagenet()
        };
        let t = p
            .apply(RgbImage::new(4, 4, &img).expect("valid"))
            .expect("applies");
        assert_eq!(t.shape(), &[1, 3, 2, 2]);
        // No resize (4x4 stays 4x4), crop offset (1, 1): pixels 5, 6, 9, 10.
        let r = |v: u8| (f32::from(v) / 255.0 - 0.485) / 0.229;
        let g = |v: u8| (f32::from(v) / 255.0 - 0.456) / 0.224;
        let b = (128.0 / 255.0 - 0.406) / 0.225;
        let d = t.data();
        assert_eq!(&d[0..4], &[r(80), r(96), r(144), r(160)]);
        assert_eq!(&d[4..8], &[g(175), g(159), g(111), g(95)]);
        assert_eq!(&d[8..12], &[b, b, b, b]);
    }

    #[test]
    fn a_buffer_of_the_wrong_size_or_an_empty_image_is_an_error() {
        assert!(RgbImage::new(2, 2, &[0; 11]).is_err());
        assert!(RgbImage::new(0, 2, &[]).is_err());
    }

    #[test]
    fn a_one_pixel_image_is_resized_to_a_flat_crop() {
        let out = Preprocess::imagenet()
            .resize_crop(RgbImage::new(1, 1, &[10, 20, 30]).expect("valid"))
            .expect("resizes");
        assert_eq!(out.len(), 224 * 224 * 3);
        assert!(out.chunks(3).all(|px| px == [10, 20, 30]));
    }

    #[test]
    fn a_very_thin_image_is_resized_without_computing_the_whole_enlargement() {
        let px: Vec<u8> = (0..30000u32)
            .flat_map(|i| [(i % 256) as u8, 0, 255])
            .collect();
        let out = Preprocess::imagenet()
            .resize_crop(RgbImage::new(1, 30000, &px).expect("valid"))
            .expect("resizes");
        assert_eq!(out.len(), 224 * 224 * 3);
        assert!(out.chunks(3).all(|p| p[1] == 0 && p[2] == 255));
    }
}
