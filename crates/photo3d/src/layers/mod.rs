//! Image + depth → a layered mesh whose occluded parts are filled.
//!
//! 1. The photo and its disparity are padded by a margin (edge-replicated) so that the
//!    frame border never opens while the camera moves.
//! 2. Depth discontinuities are found and linked ([`edges`]); the main layer's mesh is
//!    cut along them ([`mesh`]).
//! 3. Behind every edge, a *background layer* is grown: the band of pixels within
//!    `band` pixels of the edge on its near side, plus a two-pixel ring of the far side
//!    it attaches to. Its colour and depth in the band are filled ([`inpaint`]) from the
//!    far side only: for each connected band, known pixels are those outside the band
//!    no nearer than the band's far side, so foreground never bleeds into what it hid.
//!    The filled depth is kept strictly behind the near surface, so at the start pose the
//!    main layer hides the background layer exactly.
//! 4. When the camera moves by up to `max_amplitude`, a cut opens by at most that many
//!    pixels of parallax, and the band (sized from it) shows through the gap: no holes, and
//!    no "rubber sheet" triangles, since no triangle spans a cut.

pub mod edges;
pub mod inpaint;
pub mod mesh;

use std::collections::VecDeque;

use image::{RgbImage, RgbaImage};
use rayon::prelude::*;

use crate::depth::DepthMap;
use crate::{Limits, Photo3dError, Stage};
use edges::{EdgeThresholds, NEIGHBOURS};
pub use mesh::{Layer, Quad, Vertex};

/// How the layered scene is built.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerParams {
    /// The largest camera amplitude the scene must support without holes, as a fraction
    /// of the photo's longer side (the parallax of the nearest content). Sizes the
    /// background band and the margin. Default 0.05.
    pub max_amplitude: f32,
    /// Disparity of the farthest content relative to the nearest (`0.1`: the far end is
    /// ten times as far as the near end). In `(0, 1)`. Default 0.1.
    pub far_disparity: f32,
    /// Minimum disparity ratio (minus one) across a cut. Default 0.04.
    pub edge_ratio: f32,
    /// Minimum normalised-disparity step across a cut (`[0, 1]` scale). Default 0.04.
    pub edge_step: f32,
    /// Edges with fewer near-side pixels are dropped. Default 12.
    pub min_edge_pixels: u32,
    /// Shock-filter passes that turn soft depth ramps into steps. Default 2.
    pub sharpen_iterations: u32,
    /// Band width in pixels; `None` derives it from `max_amplitude`.
    pub band: Option<u32>,
    /// Horizontal+vertical field of view of the longer side, in degrees. Default 55.
    pub fov_degrees: f32,
    /// Size limits.
    pub limits: Limits,
}

impl Default for LayerParams {
    fn default() -> Self {
        Self {
            max_amplitude: 0.05,
            far_disparity: 0.1,
            edge_ratio: 0.04,
            edge_step: 0.04,
            min_edge_pixels: 12,
            sharpen_iterations: 2,
            band: None,
            fov_degrees: 55.0,
            limits: Limits::default(),
        }
    }
}

impl LayerParams {
    fn validate(&self) -> Result<(), Photo3dError> {
        let ok = self.max_amplitude.is_finite()
            && (0.0..=0.25).contains(&self.max_amplitude)
            && self.far_disparity > 0.0
            && self.far_disparity < 1.0
            && self.edge_ratio >= 0.0
            && self.edge_step > 0.0
            && self.edge_step <= 1.0
            && self.fov_degrees > 1.0
            && self.fov_degrees < 170.0
            && self.band.is_none_or(|b| b <= 1024);
        if ok {
            Ok(())
        } else {
            Err(Photo3dError::InvalidParams(format!(
                "layer parameters out of range: {self:?}"
            )))
        }
    }

    /// The band width for a photo whose longer side is `side`.
    pub fn band_for(&self, side: u32) -> u32 {
        self.band
            .unwrap_or_else(|| (self.max_amplitude * side as f32 * 1.25).ceil() as u32 + 3)
    }
}

/// A depth edge found in the photo (near-side pixels, photo coordinates).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DepthEdge {
    /// Near-side pixels `(x, y)`.
    pub pixels: Vec<(u32, u32)>,
    /// Mean normalised disparity of the near side.
    pub near: f32,
    /// Mean normalised disparity of the far side.
    pub far: f32,
}

/// The layered scene: what the renderer draws and the glTF export writes.
#[derive(Debug, Clone)]
pub struct LayeredScene {
    /// Photo width.
    pub width: u32,
    /// Photo height.
    pub height: u32,
    /// Padding around the photo in the layer grids.
    pub margin: u32,
    /// Background band width.
    pub band: u32,
    /// Focal length in pixels.
    pub focal: f32,
    /// Disparity of the farthest content.
    pub far_disparity: f32,
    /// The amplitude the scene was built for.
    pub max_amplitude: f32,
    /// Disparity of the subject (median of the central third), the dolly-zoom's anchor.
    pub subject_disparity: f32,
    /// The main layer (every pixel) and the background layer (filled bands).
    pub layers: Vec<Layer>,
    /// The depth edges the main layer is cut along.
    pub edges: Vec<DepthEdge>,
    /// The padded photo (the main layer's texture).
    pub main_texture: RgbImage,
    /// The background layer's texture (alpha 0 outside the layer).
    pub background_texture: RgbaImage,
}

impl LayeredScene {
    /// Padded grid width.
    pub fn grid_width(&self) -> u32 {
        self.width + 2 * self.margin
    }

    /// Padded grid height.
    pub fn grid_height(&self) -> u32 {
        self.height + 2 * self.margin
    }

    /// Total triangles over all layers.
    pub fn triangle_count(&self) -> usize {
        self.layers.iter().map(Layer::triangle_count).sum()
    }
}

/// Builds the layered scene of `image` with depth `depth` (see the module docs).
pub fn build_layers(
    image: &RgbImage,
    depth: &DepthMap,
    params: &LayerParams,
    progress: crate::Progress<'_>,
) -> Result<LayeredScene, Photo3dError> {
    params.validate()?;
    let (w, h) = image.dimensions();
    params.limits.check(w, h)?;
    if (depth.width(), depth.height()) != (w, h) {
        return Err(Photo3dError::DepthSizeMismatch {
            width: w,
            height: h,
            got_width: depth.width(),
            got_height: depth.height(),
        });
    }
    crate::report(progress, Stage::Layers, 0.0)?;
    let side = w.max(h);
    let band = params.band_for(side).max(2);
    let margin = band;
    let (pw, ph) = ((w + 2 * margin) as usize, (h + 2 * margin) as usize);
    let far = params.far_disparity;
    let to_scene = |dn: f32| far + dn * (1.0 - far);

    // 1. Padded colour and scene disparity (edge-replicated).
    let mut colour = Vec::with_capacity(pw * ph);
    let mut disparity = Vec::with_capacity(pw * ph);
    for gy in 0..ph {
        for gx in 0..pw {
            let x = (gx as i64 - i64::from(margin)).clamp(0, i64::from(w) - 1) as u32;
            let y = (gy as i64 - i64::from(margin)).clamp(0, i64::from(h) - 1) as u32;
            colour.push(image.get_pixel(x, y).0);
            disparity.push(to_scene(depth.plane().at(x, y)));
        }
    }
    let thresholds = EdgeThresholds {
        ratio: params.edge_ratio,
        step: params.edge_step * (1.0 - far),
    };
    edges::sharpen(
        &mut disparity,
        pw,
        ph,
        thresholds.step,
        params.sharpen_iterations,
    );

    // 2. Cuts and edges.
    let mut cuts = edges::detect(&disparity, pw, ph, thresholds, None);
    let runs = edges::link_and_clean(&mut cuts, &disparity, params.min_edge_pixels as usize);
    crate::report(progress, Stage::Layers, 0.3)?;

    // 3. Bands behind the edges.
    let (in_band, far_ref) = grow_bands(&runs, &cuts, &disparity, pw, ph, band);
    let components = components(&in_band, pw, ph);
    crate::report(progress, Stage::Inpaint, 0.0)?;
    let fills: Vec<Vec<(usize, [f32; 4])>> = components
        .par_iter()
        .map(|comp| {
            fill_component(
                comp, &in_band, &far_ref, &disparity, &colour, pw, ph, band, thresholds,
            )
        })
        .collect();
    crate::report(progress, Stage::Inpaint, 0.8)?;

    // 4. The background layer: filled band + a ring of the far side it attaches to.
    let mut bg_member = vec![false; pw * ph];
    let mut bg_disp = disparity.clone();
    let mut bg_colour = colour.clone();
    let mut tau = vec![f32::NAN; pw * ph];
    for (comp, fill) in components.iter().zip(&fills) {
        let t = comp.iter().map(|&i| far_ref[i]).fold(0.0f32, f32::max) * (1.0 + thresholds.ratio);
        for &(i, v) in fill {
            bg_member[i] = true;
            tau[i] = t;
            let behind = disparity[i] / (1.0 + thresholds.ratio) - thresholds.step;
            bg_disp[i] = v[3].min(behind).min(t).max(far * 0.5);
            bg_colour[i] = [
                v[0].round().clamp(0.0, 255.0) as u8,
                v[1].round().clamp(0.0, 255.0) as u8,
                v[2].round().clamp(0.0, 255.0) as u8,
            ];
        }
    }
    for _ in 0..2 {
        let snapshot = bg_member.clone();
        for y in 0..ph {
            for x in 0..pw {
                let i = y * pw + x;
                if snapshot[i] {
                    continue;
                }
                for &(dx, dy) in &NEIGHBOURS {
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if nx < 0 || ny < 0 || nx >= pw as i64 || ny >= ph as i64 {
                        continue;
                    }
                    let j = ny as usize * pw + nx as usize;
                    if snapshot[j] && disparity[i] <= tau[j] {
                        bg_member[i] = true;
                        tau[i] = tau[j];
                        break;
                    }
                }
            }
        }
    }
    // The background layer is cut only where its ring (original far-side pixels) has a
    // depth edge of its own; the filled band is one smooth surface attached to the ring.
    let ring: Vec<bool> = (0..pw * ph).map(|i| bg_member[i] && !in_band[i]).collect();
    let bg_cuts = edges::detect(&bg_disp, pw, ph, thresholds, Some(&ring));
    crate::report(progress, Stage::Inpaint, 1.0)?;

    // 5. Meshes.
    let all = vec![true; pw * ph];
    let main = mesh::build(&mesh::Grid {
        width: pw,
        height: ph,
        margin: margin as usize,
        member: &all,
        disparity: &disparity,
        colour: &colour,
        cuts: &cuts,
    });
    let background = mesh::build(&mesh::Grid {
        width: pw,
        height: ph,
        margin: margin as usize,
        member: &bg_member,
        disparity: &bg_disp,
        colour: &bg_colour,
        cuts: &bg_cuts,
    });
    crate::report(progress, Stage::Layers, 1.0)?;

    let normalise = |d: f32| ((d - far) / (1.0 - far)).clamp(0.0, 1.0);
    let edges = runs
        .iter()
        .filter_map(|run| {
            let pixels: Vec<(u32, u32)> = run
                .pixels
                .iter()
                .filter_map(|&i| {
                    let (gx, gy) = (
                        (i % pw) as i64 - i64::from(margin),
                        (i / pw) as i64 - i64::from(margin),
                    );
                    (gx >= 0 && gy >= 0 && gx < i64::from(w) && gy < i64::from(h))
                        .then_some((gx as u32, gy as u32))
                })
                .collect();
            (!pixels.is_empty()).then(|| DepthEdge {
                pixels,
                near: normalise(run.near),
                far: normalise(run.far),
            })
        })
        .collect();

    let subject_disparity = {
        let mut central: Vec<f32> = (h / 3..(2 * h / 3).max(h / 3 + 1))
            .flat_map(|y| (w / 3..(2 * w / 3).max(w / 3 + 1)).map(move |x| (x, y)))
            .filter(|&(x, y)| x < w && y < h)
            .map(|(x, y)| disparity[(y + margin) as usize * pw + (x + margin) as usize])
            .collect();
        central.sort_by(f32::total_cmp);
        central.get(central.len() / 2).copied().unwrap_or(0.5)
    };

    let main_texture = RgbImage::from_fn(pw as u32, ph as u32, |x, y| {
        image::Rgb(colour[y as usize * pw + x as usize])
    });
    let background_texture = RgbaImage::from_fn(pw as u32, ph as u32, |x, y| {
        let i = y as usize * pw + x as usize;
        let [r, g, b] = bg_colour[i];
        image::Rgba([r, g, b, if bg_member[i] { 255 } else { 0 }])
    });
    Ok(LayeredScene {
        width: w,
        height: h,
        margin,
        band,
        focal: 0.5 * side as f32 / (params.fov_degrees.to_radians() / 2.0).tan(),
        far_disparity: far,
        max_amplitude: params.max_amplitude,
        subject_disparity,
        layers: vec![main, background],
        edges,
        main_texture,
        background_texture,
    })
}

/// Multi-source breadth-first growth from the near side of every edge, through joined
/// links only (so a band stays on its surface), up to `band` steps. Returns the band
/// mask and, per band pixel, the disparity of the far side it hides (the largest far
/// neighbour of its seed).
fn grow_bands(
    runs: &[edges::EdgeRun],
    cuts: &edges::Cuts,
    disparity: &[f32],
    w: usize,
    h: usize,
    band: u32,
) -> (Vec<bool>, Vec<f32>) {
    let mut dist = vec![u32::MAX; w * h];
    let mut far_ref = vec![0f32; w * h];
    let mut queue = VecDeque::new();
    for run in runs {
        for &i in &run.pixels {
            let (x, y) = (i % w, i / w);
            let mut far = 0f32;
            for &(dx, dy) in &NEIGHBOURS {
                if cuts.is_cut(x, y, dx, dy) {
                    let j = (y as i64 + dy) as usize * w + (x as i64 + dx) as usize;
                    if disparity[j] < disparity[i] {
                        far = far.max(disparity[j]);
                    }
                }
            }
            if dist[i] == u32::MAX || far > far_ref[i] {
                far_ref[i] = far;
            }
            if dist[i] == u32::MAX {
                dist[i] = 0;
                queue.push_back(i);
            }
        }
    }
    while let Some(i) = queue.pop_front() {
        if dist[i] >= band {
            continue;
        }
        let (x, y) = (i % w, i / w);
        for &(dx, dy) in &NEIGHBOURS {
            let (nx, ny) = (x as i64 + dx, y as i64 + dy);
            if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 || cuts.is_cut(x, y, dx, dy) {
                continue;
            }
            let j = ny as usize * w + nx as usize;
            if dist[j] == u32::MAX {
                dist[j] = dist[i] + 1;
                far_ref[j] = far_ref[i];
                queue.push_back(j);
            }
        }
    }
    (dist.iter().map(|&d| d != u32::MAX).collect(), far_ref)
}

/// 8-connected components of a mask (pixel indices).
fn components(mask: &[bool], w: usize, h: usize) -> Vec<Vec<usize>> {
    let mut seen = vec![false; w * h];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !mask[start] || seen[start] {
            continue;
        }
        let mut comp = Vec::new();
        seen[start] = true;
        stack.push(start);
        while let Some(i) = stack.pop() {
            comp.push(i);
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            for &(dx, dy) in &NEIGHBOURS {
                let (nx, ny) = (x + dx, y + dy);
                if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                    continue;
                }
                let j = ny as usize * w + nx as usize;
                if mask[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        out.push(comp);
    }
    out
}

/// Fills one band component's colour and disparity from the background side around it.
#[expect(clippy::too_many_arguments)]
fn fill_component(
    comp: &[usize],
    in_band: &[bool],
    far_ref: &[f32],
    disparity: &[f32],
    colour: &[[u8; 3]],
    w: usize,
    h: usize,
    band: u32,
    thresholds: EdgeThresholds,
) -> Vec<(usize, [f32; 4])> {
    let reach = band as usize * 2;
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for &i in comp {
        let (x, y) = (i % w, i / w);
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let (x0, y0) = (x0.saturating_sub(reach), y0.saturating_sub(reach));
    let (x1, y1) = ((x1 + reach).min(w - 1), (y1 + reach).min(h - 1));
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    let tau = comp.iter().map(|&i| far_ref[i]).fold(0.0f32, f32::max) * (1.0 + thresholds.ratio);
    let mut values = vec![[0f32; 4]; bw * bh];
    let mut weight = vec![0f32; bw * bh];
    let mut any = false;
    for by in 0..bh {
        for bx in 0..bw {
            let i = (y0 + by) * w + x0 + bx;
            let c = colour[i];
            values[by * bw + bx] = [
                f32::from(c[0]),
                f32::from(c[1]),
                f32::from(c[2]),
                disparity[i],
            ];
            if !in_band[i] && disparity[i] <= tau {
                weight[by * bw + bx] = 1.0;
                any = true;
            }
        }
    }
    if !any {
        // Nothing behind within reach: fall back to every pixel outside the band.
        for by in 0..bh {
            for bx in 0..bw {
                let i = (y0 + by) * w + x0 + bx;
                if !in_band[i] {
                    weight[by * bw + bx] = 1.0;
                }
            }
        }
    }
    inpaint::push_pull(bw, bh, &mut values, &weight);
    comp.iter()
        .map(|&i| {
            let (x, y) = (i % w - x0, i / w - y0);
            (i, values[y * bw + x])
        })
        .collect()
}
