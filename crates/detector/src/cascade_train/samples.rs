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

use super::CascadeTrainError;

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

/// The positive windows: each positive box resampled to `window`, and mirrored too if asked.
/// Boxes smaller than a quarter of the window on a side are skipped (too blurred to teach).
pub(crate) fn positives(frames: &[TrainingFrame], window: Size, mirror: bool) -> Vec<Vec<u8>> {
    let (ww, wh) = (f64::from(window.width), f64::from(window.height));
    let mut out = Vec::new();
    for f in frames {
        for b in &f.positives {
            if !b.is_proper() || b.width() < ww / 4.0 || b.height() < wh / 4.0 {
                continue;
            }
            let patch = f
                .image
                .resample(b.xtl, b.ytl, b.width() / ww, b.height() / wh, window);
            if mirror {
                out.push(mirrored(&patch, window));
            }
            out.push(patch);
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

/// A negative window drawn at random: which frame, where (in frame pixels), at what scale.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    frame: usize,
    x0: f64,
    y0: f64,
    sx: f64,
    sy: f64,
}

impl Candidate {
    /// The window's pixels.
    pub(crate) fn patch(&self, frames: &[TrainingFrame], window: Size) -> Vec<u8> {
        frames[self.frame]
            .image
            .resample(self.x0, self.y0, self.sx, self.sy, window)
    }
}

/// Largest IoU a negative window may have with a box of the object.
pub const NEGATIVE_MAX_IOU: f64 = 0.3;

/// Draws negative windows as the detector's pyramid would see them: a frame, a pyramid level
/// (scale uniform in log space, level size rounded like OpenCV), an integer position on that
/// level; windows overlapping a box of the object by more than [`NEGATIVE_MAX_IOU`] are drawn
/// again. `None` when no frame is as large as the window, or a thousand draws in a row all
/// overlapped the object.
pub(crate) fn draw_candidate(
    frames: &[TrainingFrame],
    window: Size,
    rng: &mut Rng,
) -> Option<Candidate> {
    let (ww, wh) = (f64::from(window.width), f64::from(window.height));
    let usable: Vec<usize> = (0..frames.len())
        .filter(|&i| {
            let f = &frames[i].image;
            f.width >= window.width && f.height >= window.height
        })
        .collect();
    if usable.is_empty() {
        return None;
    }
    for _ in 0..1000 {
        let i = usable[rng.below(usable.len())];
        let (fw, fh) = (
            f64::from(frames[i].image.width),
            f64::from(frames[i].image.height),
        );
        let max_scale = (fw / ww).min(fh / wh);
        let scale = rng.uniform(0.0, max_scale.ln().max(0.0)).exp();
        let (lw, lh) = ((fw / scale).round(), (fh / scale).round());
        if lw < ww || lh < wh {
            continue;
        }
        let x = rng.below((lw - ww) as usize + 1) as f64;
        let y = rng.below((lh - wh) as usize + 1) as f64;
        let (sx, sy) = (fw / lw, fh / lh);
        let c = Candidate {
            frame: i,
            x0: x * sx,
            y0: y * sy,
            sx,
            sy,
        };
        let b = BBox::new(c.x0, c.y0, c.x0 + ww * sx, c.y0 + wh * sy);
        let f = &frames[i];
        if f.positives
            .iter()
            .chain(&f.ignore)
            .all(|o| o.iou(&b) <= NEGATIVE_MAX_IOU)
        {
            return Some(c);
        }
    }
    None
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
        let p = positives(&[frame], Size::new(3, 2), true);
        assert_eq!(
            p,
            vec![vec![20, 10, 0, 20, 10, 0], vec![0, 10, 20, 0, 10, 20]]
        );
    }

    #[test]
    fn negative_windows_keep_away_from_the_object() {
        let frame = TrainingFrame {
            image: ramp(64, 48),
            positives: vec![BBox::new(10.0, 10.0, 40.0, 40.0)],
            ignore: vec![BBox::new(40.0, 0.0, 64.0, 24.0)],
        };
        let frames = [frame];
        let mut rng = Rng::new(3);
        for _ in 0..500 {
            let c = draw_candidate(&frames, Size::new(12, 12), &mut rng).expect("a window");
            let b = BBox::new(c.x0, c.y0, c.x0 + 12.0 * c.sx, c.y0 + 12.0 * c.sy);
            assert!(b.xbr <= 64.0 + 1e-9 && b.ybr <= 48.0 + 1e-9, "{b:?}");
            assert!(b.iou(&frames[0].positives[0]) <= NEGATIVE_MAX_IOU);
            assert!(b.iou(&frames[0].ignore[0]) <= NEGATIVE_MAX_IOU);
        }
        assert!(draw_candidate(&frames, Size::new(80, 80), &mut rng).is_none());
    }
}
