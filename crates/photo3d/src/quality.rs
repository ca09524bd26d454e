//! Measures of what a viewer sees in a rendered 3D photo, for tests and benchmarks.
//!
//! - [`border_ratios`]: a smeared border (a frame edge that shows the photo's outermost
//!   pixels stretched across it) has almost no gradient *across* the border and the photo's
//!   usual gradient *along* it. In a band along each border the mean gradient across the
//!   border divided by the mean gradient along it reads 0.8–1.6 on natural photos and
//!   0.04–0.25 on smeared borders.
//! - [`stretched_triangles`]: triangles drawn in a frame that are stretched across a depth
//!   discontinuity ("rubber sheets"): an edge of the triangle longer on screen than the
//!   local magnification explains, by more than [`STRETCH_PX`].

use image::RgbaImage;

use crate::LayeredScene;
use crate::camera::Pose;
use crate::camera::project;

/// Width in pixels of the band along each border that [`border_ratios`] measures.
pub const BORDER_BAND: u32 = 12;

/// A triangle edge longer on screen than its rest length times the local magnification by
/// more than this many pixels counts as stretched.
pub const STRETCH_PX: f32 = 1.0;

/// Regularises the ratio where the band has no structure (gray levels per pixel): a flat
/// band reads 1, not 0/0.
const FLAT: f64 = 0.25;

/// Across/along gradient ratio of the [`BORDER_BAND`]-pixel band along each border of
/// `frame`: `[left, right, top, bottom]`. Gradients are absolute differences of neighbouring
/// pixels' luma (BT.601), `(mean across + 0.25) / (mean along + 0.25)`.
pub fn border_ratios(frame: &RgbaImage) -> [f64; 4] {
    let (w, h) = frame.dimensions();
    let luma: Vec<f64> = frame
        .pixels()
        .map(|p| 0.299 * f64::from(p.0[0]) + 0.587 * f64::from(p.0[1]) + 0.114 * f64::from(p.0[2]))
        .collect();
    let at = |x: u32, y: u32| luma[(y * w + x) as usize];
    let band = BORDER_BAND
        .min(w.saturating_sub(1))
        .min(h.saturating_sub(1));
    if band == 0 {
        return [1.0; 4];
    }
    // (across, along) sums over the band; `vertical` borders are left and right.
    let measure = |xs: std::ops::Range<u32>, ys: std::ops::Range<u32>, vertical: bool| {
        let (mut across, mut along, mut n_across, mut n_along) = (0f64, 0f64, 0usize, 0usize);
        for y in ys.clone() {
            for x in xs.clone() {
                let (dx, dy) = (
                    (x + 1 < w).then(|| (at(x + 1, y) - at(x, y)).abs()),
                    (y + 1 < h).then(|| (at(x, y + 1) - at(x, y)).abs()),
                );
                let (a, b) = if vertical { (dx, dy) } else { (dy, dx) };
                if let Some(a) = a {
                    across += a;
                    n_across += 1;
                }
                if let Some(b) = b {
                    along += b;
                    n_along += 1;
                }
            }
        }
        let mean = |s: f64, n: usize| if n == 0 { 0.0 } else { s / n as f64 };
        (mean(across, n_across) + FLAT) / (mean(along, n_along) + FLAT)
    };
    [
        measure(0..band, 0..h, true),
        measure(w - 1 - band..w - 1, 0..h, true),
        measure(0..w, 0..band, false),
        measure(0..w, h - 1 - band..h - 1, false),
    ]
}

/// Number of triangles drawn at `pose` (their screen box meets the frame) that are stretched
/// across a depth discontinuity: one of their edges is longer on screen than its rest length
/// times the larger magnification of its two ends, by more than [`STRETCH_PX`].
pub fn stretched_triangles(scene: &LayeredScene, pose: &Pose) -> usize {
    let (w, h) = (scene.width as f32, scene.height as f32);
    let mut count = 0;
    for layer in &scene.layers {
        // Projected position and local magnification (screen pixels per photo pixel).
        let projected: Vec<Option<(f32, f32, f32)>> = layer
            .vertices
            .iter()
            .map(|v| {
                project(scene, pose, v).map(|p| {
                    let magnification = pose.focal_scale / (1.0 - pose.tz * v.disparity);
                    (p.x, p.y, magnification)
                })
            })
            .collect();
        for quad in &layer.quads {
            for tri in quad.triangles() {
                let corners = tri.map(|i| (layer.vertices[i as usize], projected[i as usize]));
                let mut stretched = false;
                let mut on_screen = [false; 4]; // some x > 0, some x < w, some y > 0, some y < h
                for k in 0..3 {
                    let (va, pa) = corners[k];
                    let (vb, pb) = corners[(k + 1) % 3];
                    let (Some(pa), Some(pb)) = (pa, pb) else {
                        stretched = false;
                        on_screen = [false; 4];
                        break;
                    };
                    on_screen[0] |= pa.0 > 0.0;
                    on_screen[1] |= pa.0 < w;
                    on_screen[2] |= pa.1 > 0.0;
                    on_screen[3] |= pa.1 < h;
                    let rest = (va.x - vb.x).hypot(va.y - vb.y);
                    let now = (pa.0 - pb.0).hypot(pa.1 - pb.1);
                    stretched |= now > rest * pa.2.max(pb.2) + STRETCH_PX;
                }
                if stretched && on_screen.iter().all(|&b| b) {
                    count += 1;
                }
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(w: u32, h: u32) -> RgbaImage {
        let mut s = 12345u32;
        RgbaImage::from_fn(w, h, |_, _| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let v = (s >> 24) as u8;
            image::Rgba([v, v, v, 255])
        })
    }

    #[test]
    fn noise_reads_about_one_and_a_smeared_left_border_reads_near_zero() {
        let img = noise(96, 64);
        for r in border_ratios(&img) {
            assert!((0.8..1.25).contains(&r), "{r}");
        }
        // The left 16 columns copy column 16, as an edge-replicated margin shows.
        let mut smeared = img.clone();
        for y in 0..64 {
            let p = *img.get_pixel(16, y);
            for x in 0..16 {
                smeared.put_pixel(x, y, p);
            }
        }
        let r = border_ratios(&smeared);
        assert!(r[0] < 0.01, "{r:?}");
        assert!(r[1] > 0.8 && r[2] > 0.5 && r[3] > 0.5, "{r:?}");
    }

    #[test]
    fn a_flat_frame_reads_one() {
        let img = RgbaImage::from_pixel(40, 30, image::Rgba([9, 9, 9, 255]));
        assert_eq!(border_ratios(&img), [1.0; 4]);
    }
}
