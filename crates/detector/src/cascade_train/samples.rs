//! Training windows: gray frames, positive crops of the annotated boxes resampled to the window,
//! and random windows of the frames' scale pyramid away from those boxes (the negatives).
//!
//! Windows are resampled the way OpenCV's `INTER_LINEAR` maps pixel centres
//! (`src = (dst + 0.5) · scale − 0.5`, clamped at the border), which is how a pyramid level that
//! the detector scans sees the same region.

use atelier_haar::Size;
use image::RgbImage;

use crate::annotation::FrameBox;
use crate::geometry::BBox;
use crate::synth::Rng;

use super::lbp::Integral;
use super::{CascadeParams, CascadeTrainError};

/// A gray image, row-major without padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height` luma values.
    pub pixels: Vec<u8>,
}

impl GrayFrame {
    /// The luma of an RGB image, with OpenCV's `RGB2GRAY` arithmetic (what detection uses).
    pub fn from_rgb(image: &RgbImage) -> Result<Self, CascadeTrainError> {
        let (width, height) = image.dimensions();
        let pixels = atelier_haar::rgb_to_gray(image.as_raw(), width, height, 3)
            .map_err(|e| CascadeTrainError::BadImage(e.to_string()))?;
        Ok(Self {
            width,
            height,
            pixels,
        })
    }

    /// Bilinear value at (`x`, `y`), clamped to the image.
    fn at(&self, x: f64, y: f64) -> f64 {
        let (w, h) = (self.width as usize, self.height as usize);
        let x = x.clamp(0.0, (w - 1) as f64);
        let y = y.clamp(0.0, (h - 1) as f64);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (fx, fy) = (x - x0 as f64, y - y0 as f64);
        let p = |x: usize, y: usize| f64::from(self.pixels[y * w + x]);
        let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
        let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    /// The region at (`x0`, `y0`) of `window` × (`sx`, `sy`) pixels resampled to `window`.
    pub(crate) fn resample(&self, x0: f64, y0: f64, sx: f64, sy: f64, window: Size) -> Vec<u8> {
        let (ww, wh) = (window.width as usize, window.height as usize);
        let mut out = Vec::with_capacity(ww * wh);
        for dy in 0..wh {
            let y = y0 + (dy as f64 + 0.5) * sy - 0.5;
            for dx in 0..ww {
                let x = x0 + (dx as f64 + 0.5) * sx - 0.5;
                out.push(self.at(x, y).round().clamp(0.0, 255.0) as u8);
            }
        }
        out
    }
}

/// One training image for one object label.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingFrame {
    /// The image.
    pub image: GrayFrame,
    /// Boxes of the object cropped as positives.
    pub positives: Vec<BBox>,
    /// Other boxes of the object (occluded ones, say): not positives, but no negative window
    /// may overlap them either.
    pub ignore: Vec<BBox>,
}

impl TrainingFrame {
    /// A frame's boxes of `label`: visible ones become positives, occluded ones too when
    /// `occluded` is set, else they are only kept out of the negatives. A frame without any box
    /// of `label` gives negatives only.
    pub fn from_boxes(
        image: &RgbImage,
        boxes: &[FrameBox],
        label: &str,
        occluded: bool,
    ) -> Result<Self, CascadeTrainError> {
        let mut frame = Self {
            image: GrayFrame::from_rgb(image)?,
            positives: Vec::new(),
            ignore: Vec::new(),
        };
        for b in boxes.iter().filter(|b| b.label == label) {
            if occluded || !b.occluded {
                frame.positives.push(b.bbox);
            } else {
                frame.ignore.push(b.bbox);
            }
        }
        Ok(frame)
    }
}

/// The positive windows: each positive box resampled to the window, plus `jitter` shifted and
/// scaled copies, each also mirrored if asked. Boxes smaller than a quarter of the window on a
/// side are skipped (too blurred to teach).
pub(crate) fn positives(
    frames: &[TrainingFrame],
    p: &CascadeParams,
    rng: &mut Rng,
) -> Vec<Vec<u8>> {
    let window = p.window;
    let (ww, wh) = (f64::from(window.width), f64::from(window.height));
    let mut out = Vec::new();
    for f in frames {
        for b in &f.positives {
            if !b.is_proper() || b.width() < ww / 4.0 || b.height() < wh / 4.0 {
                continue;
            }
            for copy in 0..=p.jitter {
                let (mut w, mut h, mut x, mut y) = (b.width(), b.height(), b.xtl, b.ytl);
                if copy > 0 {
                    let s = rng.uniform(-0.08, 0.08).exp();
                    let (nw, nh) = (w * s, h * s);
                    x += (w - nw) / 2.0 + rng.uniform(-0.06, 0.06) * w;
                    y += (h - nh) / 2.0 + rng.uniform(-0.06, 0.06) * h;
                    (w, h) = (nw, nh);
                }
                let patch = f.image.resample(x, y, w / ww, h / wh, window);
                if p.mirror {
                    out.push(mirrored(&patch, window));
                }
                out.push(patch);
            }
        }
    }
    out
}

/// The patch flipped left to right.
fn mirrored(patch: &[u8], window: Size) -> Vec<u8> {
    patch
        .chunks_exact(window.width as usize)
        .flat_map(|row| row.iter().rev().copied())
        .collect()
}

/// Largest IoU a negative window may have with a box of the object.
pub const NEGATIVE_MAX_IOU: f64 = 0.3;

/// One level of a frame's scale pyramid with its integral, as the detector scans it.
pub(crate) struct Level {
    pixels: Vec<u8>,
    width: usize,
    height: usize,
    sx: f64,
    sy: f64,
    pub(crate) integral: Integral,
}

impl Level {
    /// Frame `frame` shrunk by `scale` (level size rounded like OpenCV), or `None` when the
    /// level is smaller than the window.
    pub(crate) fn new(frame: &GrayFrame, scale: f64, window: Size) -> Option<Self> {
        let (fw, fh) = (f64::from(frame.width), f64::from(frame.height));
        let (lw, lh) = ((fw / scale).round(), (fh / scale).round());
        if lw < f64::from(window.width) || lh < f64::from(window.height) {
            return None;
        }
        let (sx, sy) = (fw / lw, fh / lh);
        let (width, height) = (lw as usize, lh as usize);
        let pixels = frame.resample(0.0, 0.0, sx, sy, Size::new(width as u32, height as u32));
        let integral = Integral::new(&pixels, width, height);
        Some(Self {
            pixels,
            width,
            height,
            sx,
            sy,
            integral,
        })
    }

    /// Window positions per row and rows.
    pub(crate) fn positions(&self, window: Size) -> (usize, usize) {
        (
            self.width + 1 - window.width as usize,
            self.height + 1 - window.height as usize,
        )
    }

    /// The window at (`x`, `y`) in frame pixels.
    pub(crate) fn frame_box(&self, x: usize, y: usize, window: Size) -> BBox {
        let (x0, y0) = (x as f64 * self.sx, y as f64 * self.sy);
        BBox::new(
            x0,
            y0,
            x0 + f64::from(window.width) * self.sx,
            y0 + f64::from(window.height) * self.sy,
        )
    }

    /// The window's pixels at (`x`, `y`).
    pub(crate) fn patch(&self, x: usize, y: usize, window: Size) -> Vec<u8> {
        let (ww, wh) = (window.width as usize, window.height as usize);
        (y..y + wh)
            .flat_map(|r| {
                self.pixels[r * self.width + x..r * self.width + x + ww]
                    .iter()
                    .copied()
            })
            .collect()
    }
}

/// Picks a frame at least as large as the window and a pyramid scale for it (uniform in log
/// space up to the largest that still holds a window); `None` when no frame is large enough.
pub(crate) fn draw_level(
    frames: &[TrainingFrame],
    window: Size,
    rng: &mut Rng,
) -> Option<(usize, Level)> {
    let usable: Vec<usize> = (0..frames.len())
        .filter(|&i| {
            let f = &frames[i].image;
            f.width >= window.width && f.height >= window.height
        })
        .collect();
    if usable.is_empty() {
        return None;
    }
    loop {
        let i = usable[rng.below(usable.len())];
        let f = &frames[i].image;
        let max_scale = (f64::from(f.width) / f64::from(window.width))
            .min(f64::from(f.height) / f64::from(window.height));
        let scale = rng.uniform(0.0, max_scale.ln().max(0.0)).exp();
        if let Some(level) = Level::new(f, scale, window) {
            return Some((i, level));
        }
    }
}

/// Whether a window (in frame pixels) may be a negative of `frame`.
pub(crate) fn away_from_object(frame: &TrainingFrame, b: &BBox) -> bool {
    frame
        .positives
        .iter()
        .chain(&frame.ignore)
        .all(|o| o.iou(b) <= NEGATIVE_MAX_IOU)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(width: u32, height: u32) -> GrayFrame {
        GrayFrame {
            width,
            height,
            pixels: (0..width * height)
                .map(|i| (i % width * 10) as u8)
                .collect(),
        }
    }

    #[test]
    fn resampling_at_scale_one_copies_the_pixels() {
        let f = ramp(8, 4);
        let patch = f.resample(2.0, 1.0, 1.0, 1.0, Size::new(3, 2));
        assert_eq!(patch, vec![20, 30, 40, 20, 30, 40]);
    }

    #[test]
    fn resampling_at_scale_two_averages_pixel_pairs() {
        let f = ramp(8, 4);
        // Centres fall between columns 0|1, 2|3, 4|5, 6|7: the means 5, 25, 45, 65.
        let patch = f.resample(0.0, 0.0, 2.0, 2.0, Size::new(4, 2));
        assert_eq!(patch, vec![5, 25, 45, 65, 5, 25, 45, 65]);
    }

    #[test]
    fn a_mirrored_positive_is_flipped_left_to_right() {
        let frame = TrainingFrame {
            image: ramp(8, 4),
            positives: vec![BBox::new(0.0, 0.0, 3.0, 2.0)],
            ignore: vec![],
        };
        let params = CascadeParams {
            window: Size::new(3, 2),
            jitter: 0,
            ..CascadeParams::default()
        };
        let p = positives(&[frame], &params, &mut Rng::new(1));
        assert_eq!(
            p,
            vec![vec![20, 10, 0, 20, 10, 0], vec![0, 10, 20, 0, 10, 20]]
        );
    }

    #[test]
    fn a_pyramid_level_maps_its_windows_back_to_the_frame() {
        let frame = ramp(64, 48);
        let level = Level::new(&frame, 2.0, Size::new(12, 12)).expect("a level");
        assert_eq!(level.positions(Size::new(12, 12)), (21, 13));
        assert_eq!(
            level.frame_box(3, 1, Size::new(12, 12)),
            BBox::new(6.0, 2.0, 30.0, 26.0)
        );
        // Column 3 of the level averages frame columns 6 and 7: (60 + 70) / 2.
        assert_eq!(level.patch(3, 1, Size::new(12, 12))[0], 65);
        assert!(Level::new(&frame, 4.5, Size::new(12, 12)).is_none());
    }

    #[test]
    fn negative_windows_keep_away_from_the_object() {
        let frame = TrainingFrame {
            image: ramp(64, 48),
            positives: vec![BBox::new(10.0, 10.0, 40.0, 40.0)],
            ignore: vec![BBox::new(40.0, 0.0, 64.0, 24.0)],
        };
        assert!(!away_from_object(
            &frame,
            &BBox::new(12.0, 12.0, 40.0, 40.0)
        ));
        assert!(!away_from_object(&frame, &BBox::new(40.0, 0.0, 60.0, 20.0)));
        assert!(away_from_object(&frame, &BBox::new(0.0, 36.0, 12.0, 48.0)));
        let frames = [frame];
        assert!(draw_level(&frames, Size::new(80, 80), &mut Rng::new(3)).is_none());
    }
}
