//! Rasterising the layered scene: perspective projection, a z-buffer, supersampled
//! anti-aliasing, and frames in parallel with rayon.
//!
//! Vertices are projected to fixed-point sample coordinates (8 fractional bits) and
//! triangles are scan-converted with exact integer edge functions and a top-left fill
//! rule, so triangles sharing an edge never leave a crack between them nor cover a
//! sample twice. Inverse depth is interpolated linearly in screen space (which is
//! perspective-correct for `1/z`) and the nearest fragment wins. Each quad is one
//! photo pixel with one colour: at the start pose every sample of a pixel lands on that
//! pixel's quad, so the photo is reproduced exactly; when the camera moves, `s×s`
//! supersampling averages the quads each output pixel overlaps (an area filter).
//! Samples no triangle reaches are counted ([`Frame::uncovered_samples`]); with
//! [`RenderParams::fill_holes`] the pixels left empty are filled by push-pull so that an
//! over-large amplitude degrades gracefully instead of showing black.

use atelier_imaging::rounding::{round_to_i64, round_to_u8};
use image::RgbaImage;
use rayon::prelude::*;

use crate::camera::{CameraPath, Pose, project};
use crate::layers::inpaint;
use crate::{LayeredScene, Photo3dError, Stage};

/// Fractional bits of the fixed-point sample coordinates.
const SUBPIXEL_BITS: u32 = 8;
const ONE: i64 = 1 << SUBPIXEL_BITS;
const HALF: i64 = ONE / 2;

/// How frames are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderParams {
    /// Samples per pixel side (1–4); 2 = 4 samples per pixel. Default 2.
    pub supersample: u32,
    /// Largest number of frames one call may render. Default 1800 (60 s at 30 fps).
    pub max_frames: usize,
    /// Fill pixels no triangle covers (only possible beyond the supported amplitude).
    /// Default true.
    pub fill_holes: bool,
}

impl Default for RenderParams {
    fn default() -> Self {
        Self {
            supersample: 2,
            max_frames: 1800,
            fill_holes: true,
        }
    }
}

/// One rendered frame and its coverage statistics.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The frame (opaque).
    pub image: RgbaImage,
    /// Samples no triangle covered (before any hole filling).
    pub uncovered_samples: usize,
    /// Pixels none of whose samples was covered (filled afterwards when asked).
    pub empty_pixels: usize,
}

/// Renders one pose.
pub fn render_pose(scene: &LayeredScene, pose: &Pose, params: &RenderParams) -> Frame {
    let s = params.supersample.clamp(1, 4) as usize;
    let (w, h) = (scene.width as usize, scene.height as usize);
    let (sw, sh) = (w * s, h * s);
    let mut zbuf = vec![0f32; sw * sh];
    let mut cbuf = vec![[0u8; 3]; sw * sh];
    let scale = s as f32 * ONE as f32;
    for layer in &scene.layers {
        let projected: Vec<Option<(i64, i64, f32)>> = layer
            .vertices
            .iter()
            .map(|v| {
                project(scene, pose, v).map(|p| {
                    (
                        round_to_i64(p.x * scale),
                        round_to_i64(p.y * scale),
                        p.inv_z,
                    )
                })
            })
            .collect();
        for quad in &layer.quads {
            for tri in quad.triangles() {
                let (Some(a), Some(b), Some(c)) = (
                    projected[tri[0] as usize],
                    projected[tri[1] as usize],
                    projected[tri[2] as usize],
                ) else {
                    continue;
                };
                raster_triangle([a, b, c], quad.colour, sw, sh, &mut zbuf, &mut cbuf);
            }
        }
    }
    resolve(&zbuf, &cbuf, w, h, s, params.fill_holes)
}

/// Renders every frame of `path` (in parallel), reporting [`Stage::Render`] progress.
/// Frames are framed by the path's zoom ([`CameraPath::framed_poses`]), so none shows
/// beyond the photo.
pub fn render(
    scene: &LayeredScene,
    path: &CameraPath,
    params: &RenderParams,
    progress: crate::Progress<'_>,
) -> Result<Vec<RgbaImage>, Photo3dError> {
    Ok(render_frames(scene, path, params, progress)?
        .into_iter()
        .map(|f| f.image)
        .collect())
}

/// Like [`render`], keeping each frame's coverage statistics.
pub fn render_frames(
    scene: &LayeredScene,
    path: &CameraPath,
    params: &RenderParams,
    progress: crate::Progress<'_>,
) -> Result<Vec<Frame>, Photo3dError> {
    path.validate()?;
    if !(1..=4).contains(&params.supersample) {
        return Err(Photo3dError::InvalidParams(format!(
            "supersample must be in 1..=4, got {}",
            params.supersample
        )));
    }
    let n = path.frame_count();
    if n > params.max_frames {
        return Err(Photo3dError::InvalidParams(format!(
            "{n} frames requested; the limit is {}",
            params.max_frames
        )));
    }
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let done = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    crate::report(progress, Stage::Render, 0.0)?;
    let poses = path.framed_poses(scene);
    poses
        .par_iter()
        .map(|pose| {
            // Once asked to stop, the frames not yet started are skipped.
            if stop.load(Ordering::Relaxed) {
                return Err(Photo3dError::Canceled);
            }
            let frame = render_pose(scene, pose, params);
            let k = done.fetch_add(1, Ordering::Relaxed) + 1;
            if !progress(Stage::Render, k as f32 / n as f32) {
                stop.store(true, Ordering::Relaxed);
            }
            Ok(frame)
        })
        .collect::<Result<Vec<Frame>, Photo3dError>>()
        .and_then(|frames| {
            if stop.load(Ordering::Relaxed) {
                Err(Photo3dError::Canceled)
            } else {
                Ok(frames)
            }
        })
}

/// Scan-converts one triangle into the sample buffers.
#[inline]
fn raster_triangle(
    v: [(i64, i64, f32); 3],
    colour: [u8; 3],
    sw: usize,
    sh: usize,
    zbuf: &mut [f32],
    cbuf: &mut [[u8; 3]],
) {
    let [v0, mut v1, mut v2] = v;
    let mut area = (v1.0 - v0.0) * (v2.1 - v0.1) - (v1.1 - v0.1) * (v2.0 - v0.0);
    if area == 0 {
        return;
    }
    if area < 0 {
        std::mem::swap(&mut v1, &mut v2);
        area = -area;
    }
    // Sample (sx, sy) sits at fixed-point (sx·ONE + HALF, sy·ONE + HALF).
    let min_x = v0.0.min(v1.0).min(v2.0);
    let max_x = v0.0.max(v1.0).max(v2.0);
    let min_y = v0.1.min(v1.1).min(v2.1);
    let max_y = v0.1.max(v1.1).max(v2.1);
    let sx0 = ((min_x - HALF + ONE - 1).div_euclid(ONE)).max(0);
    let sx1 = ((max_x - HALF).div_euclid(ONE)).min(sw as i64 - 1);
    let sy0 = ((min_y - HALF + ONE - 1).div_euclid(ONE)).max(0);
    let sy1 = ((max_y - HALF).div_euclid(ONE)).min(sh as i64 - 1);
    if sx0 > sx1 || sy0 > sy1 {
        return;
    }
    // Edge functions E(a, b, p) = (b.x - a.x)(p.y - a.y) - (b.y - a.y)(p.x - a.x),
    // non-negative inside; top-left edges include their boundary, the others do not.
    let edge = |a: (i64, i64, f32), b: (i64, i64, f32)| {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let top_left = dy < 0 || (dy == 0 && dx > 0);
        (dx, dy, a, if top_left { 0 } else { -1 })
    };
    let edges = [edge(v1, v2), edge(v2, v0), edge(v0, v1)];
    let px0 = sx0 * ONE + HALF;
    let py0 = sy0 * ONE + HALF;
    let mut row = [0i64; 3];
    for (k, (dx, dy, a, _)) in edges.iter().enumerate() {
        row[k] = dx * (py0 - a.1) - dy * (px0 - a.0);
    }
    let step_x = edges.map(|(_, dy, _, _)| -dy * ONE);
    let step_y = edges.map(|(dx, _, _, _)| dx * ONE);
    let bias = edges.map(|(_, _, _, b)| b);
    let inv_area = 1.0 / area as f32;
    let z = [v0.2, v1.2, v2.2];
    for sy in sy0..=sy1 {
        let mut e = row;
        let base = sy as usize * sw;
        for sx in sx0..=sx1 {
            if e[0] + bias[0] >= 0 && e[1] + bias[1] >= 0 && e[2] + bias[2] >= 0 {
                let depth =
                    (e[0] as f32 * z[0] + e[1] as f32 * z[1] + e[2] as f32 * z[2]) * inv_area;
                let i = base + sx as usize;
                if depth > zbuf[i] {
                    zbuf[i] = depth;
                    cbuf[i] = colour;
                }
            }
            e[0] += step_x[0];
            e[1] += step_x[1];
            e[2] += step_x[2];
        }
        row[0] += step_y[0];
        row[1] += step_y[1];
        row[2] += step_y[2];
    }
}

/// Averages each pixel's covered samples; counts and optionally fills what is empty.
fn resolve(zbuf: &[f32], cbuf: &[[u8; 3]], w: usize, h: usize, s: usize, fill: bool) -> Frame {
    let sw = w * s;
    let mut uncovered = 0usize;
    let mut values = vec![[0f32; inpaint::CHANNELS]; w * h];
    let mut weight = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0u32; 3];
            let mut n = 0u32;
            for dy in 0..s {
                for dx in 0..s {
                    let i = (y * s + dy) * sw + x * s + dx;
                    if zbuf[i] > 0.0 {
                        for c in 0..3 {
                            acc[c] += u32::from(cbuf[i][c]);
                        }
                        n += 1;
                    } else {
                        uncovered += 1;
                    }
                }
            }
            if n > 0 {
                let i = y * w + x;
                for c in 0..3 {
                    values[i][c] = acc[c] as f32 / n as f32;
                }
                weight[i] = 1.0;
            }
        }
    }
    let empty = weight.iter().filter(|&&w| w == 0.0).count();
    if fill && empty > 0 {
        inpaint::push_pull(w, h, &mut values, &weight);
    }
    let image = RgbaImage::from_fn(w as u32, h as u32, |x, y| {
        let v = values[y as usize * w + x as usize];
        image::Rgba([round_to_u8(v[0]), round_to_u8(v[1]), round_to_u8(v[2]), 255])
    });
    Frame {
        image,
        uncovered_samples: uncovered,
        empty_pixels: empty,
    }
}
