//! The classical fallback when no depth network is available.
//!
//! A monocular photo has no depth signal a heuristic can read reliably; this one combines
//! three cues that are right more often than not in everyday photos, then snaps the result
//! to the photo's edges:
//!
//! 1. **position** (weight 0.5): lower in the frame is nearer (the ground-plane prior of
//!    Hoiem et al. and of most landscape and street photos);
//! 2. **focus** (0.3): regions with strong local gradients are in focus, and the subject
//!    in focus is usually nearer than the defocused background (depth-from-defocus in
//!    its crudest form: local gradient energy, smoothed);
//! 3. **saliency** (0.2): pixels whose colour stands out from the frame's average,
//!    weighted by a centre prior, are usually the subject.
//!
//! The blend is smoothed with a guided filter whose guide is the photo's luminance, so the
//! map follows object outlines and the layer step finds cuts there. Expect a mild,
//! plausible parallax, not measured depth; the job result says this source was used.

use image::RgbImage;

use super::{DepthMap, luminance};
use crate::Plane;

/// Weights of the position, focus and saliency cues.
const WEIGHTS: [f32; 3] = [0.5, 0.3, 0.2];

/// The classical depth estimate of `image` (see the module docs).
pub fn estimate(image: &RgbImage) -> DepthMap {
    let (w, h) = image.dimensions();
    let side = w.max(h);
    let lum = luminance(image);

    let position = Plane::from_fn(w, h, |_, y| {
        if h > 1 {
            y as f32 / (h - 1) as f32
        } else {
            0.5
        }
    });

    let gradient = Plane::from_fn(w, h, |x, y| {
        let (x, y) = (i64::from(x), i64::from(y));
        let gx = lum.at_clamped(x + 1, y) - lum.at_clamped(x - 1, y);
        let gy = lum.at_clamped(x, y + 1) - lum.at_clamped(x, y - 1);
        (gx * gx + gy * gy).sqrt()
    });
    let focus = gradient
        .box_mean((side / 24).max(1))
        .box_mean((side / 24).max(1))
        .normalised();

    let mean = {
        let n = (w as f32 * h as f32).max(1.0);
        let mut sum = [0f32; 3];
        for p in image.pixels() {
            for (s, &c) in sum.iter_mut().zip(&p.0) {
                *s += f32::from(c);
            }
        }
        sum.map(|s| s / n)
    };
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let sigma = side as f32 * 0.35;
    let saliency = Plane::from_fn(w, h, |x, y| {
        let p = image.get_pixel(x, y).0;
        let d: f32 = p
            .iter()
            .zip(&mean)
            .map(|(&c, m)| (f32::from(c) - m).powi(2))
            .sum::<f32>()
            .sqrt();
        let r2 = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2);
        d * (-r2 / (2.0 * sigma * sigma)).exp()
    })
    .box_mean((side / 48).max(1))
    .normalised();

    let blend = Plane::from_fn(w, h, |x, y| {
        WEIGHTS[0] * position.at(x, y)
            + WEIGHTS[1] * focus.at(x, y)
            + WEIGHTS[2] * saliency.at(x, y)
    });
    let refined = blend.guided_by(&lum, (side / 32).max(2), 1e-2);
    DepthMap::from_disparity(refined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_a_featureless_photo_the_bottom_is_nearer_than_the_top() {
        let img = RgbImage::from_pixel(32, 24, image::Rgb([120, 130, 140]));
        let map = estimate(&img);
        assert!(map.plane().at(16, 23) > map.plane().at(16, 0) + 0.5);
    }

    #[test]
    fn a_sharp_salient_subject_comes_forward_of_a_flat_background() {
        // A textured red square in the middle of a flat grey frame.
        let img = RgbImage::from_fn(64, 64, |x, y| {
            if (20..44).contains(&x) && (20..44).contains(&y) {
                if (x + y) % 2 == 0 {
                    image::Rgb([250, 30, 30])
                } else {
                    image::Rgb([120, 0, 0])
                }
            } else {
                image::Rgb([128, 128, 128])
            }
        });
        let map = estimate(&img);
        // Same row, so the position prior is equal: the subject must win on the other cues.
        assert!(map.plane().at(32, 32) > map.plane().at(4, 32) + 0.1);
    }
}
