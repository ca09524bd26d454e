//! Finding the drawn figure on light paper: local-background threshold, closing, hole filling and
//! the largest connected component (one piece), with typed refusals for blank pages and pages
//! holding several figures of similar size.

use image::{GrayImage, RgbaImage};
use serde::{Deserialize, Serialize};

use crate::AnimateError;

/// A binary mask (1 = figure) of `width × height` pixels, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// One byte per pixel, 0 or 1.
    pub data: Vec<u8>,
}

impl Mask {
    /// An empty mask.
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            data: vec![0; width as usize * height as usize],
        }
    }
    /// Whether (x, y) is inside the image and set.
    pub fn get(&self, x: i64, y: i64) -> bool {
        x >= 0
            && y >= 0
            && x < i64::from(self.width)
            && y < i64::from(self.height)
            && self.data[y as usize * self.width as usize + x as usize] != 0
    }
    /// Number of set pixels.
    pub fn area(&self) -> usize {
        self.data.iter().filter(|&&v| v != 0).count()
    }
    /// The mask as an 8-bit image (255 = figure).
    pub fn to_gray(&self) -> GrayImage {
        GrayImage::from_fn(self.width, self.height, |x, y| {
            image::Luma([if self.get(i64::from(x), i64::from(y)) {
                255
            } else {
                0
            }])
        })
    }
    /// Bounding box of the set pixels, if any.
    pub fn bbox(&self) -> Option<BBox> {
        let w = self.width as usize;
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        for (i, &v) in self.data.iter().enumerate() {
            if v != 0 {
                let (x, y) = (i % w, i / w);
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
        }
        (x0 != usize::MAX).then(|| BBox {
            x: x0 as u32,
            y: y0 as u32,
            width: (x1 - x0 + 1) as u32,
            height: (y1 - y0 + 1) as u32,
        })
    }
    /// Grow the mask by `r` pixels (square structuring element).
    pub fn dilate(&self, r: u32) -> Mask {
        morph(self, r, true)
    }
    /// Shrink the mask by `r` pixels (square structuring element).
    pub fn erode(&self, r: u32) -> Mask {
        morph(self, r, false)
    }
}

/// An axis-aligned box in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BBox {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// Thresholds of the figure finder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentParams {
    /// Minimum ink contrast (0–255, paper minus ink in the darkest channel) for a page not to be
    /// blank.
    pub min_contrast: f32,
    /// Smallest figure, as a fraction of the page area.
    pub min_area_fraction: f32,
    /// Another component at least this fraction of the largest one's area counts as a second
    /// figure.
    pub multi_figure_ratio: f32,
}

impl Default for SegmentParams {
    fn default() -> Self {
        Self {
            min_contrast: 28.0,
            min_area_fraction: 0.002,
            multi_figure_ratio: 0.35,
        }
    }
}

/// Find the one figure on the page and return its hole-free, connected mask.
pub fn segment(img: &RgbaImage, p: &SegmentParams) -> Result<Mask, AnimateError> {
    let (w, h) = img.dimensions();
    let (wu, hu) = (w as usize, h as usize);
    // Darkest channel over white: coloured and dark ink are both "low" here, paper is high.
    let v: Vec<f32> = img
        .pixels()
        .map(|px| {
            let m = f32::from(px[0].min(px[1]).min(px[2]));
            let a = f32::from(px[3]) / 255.0;
            255.0 - a * (255.0 - m)
        })
        .collect();
    let vb = box_blur(&v, wu, hu, 1);
    // Paper level: local maximum over a window wider than strokes, smoothed.
    let r = (w.min(h) / 16).max(7) as usize;
    let bg = box_blur(&max_filter(&vb, wu, hu, r), wu, hu, r);
    let d: Vec<f32> = vb.iter().zip(&bg).map(|(a, b)| (b - a).max(0.0)).collect();
    let mut sorted = d.clone();
    let k = ((sorted.len() as f32) * 0.997) as usize;
    let k = k.min(sorted.len().saturating_sub(1));
    let (_, contrast, _) = sorted.select_nth_unstable_by(k, f32::total_cmp);
    let contrast = *contrast;
    if contrast < p.min_contrast {
        return Err(AnimateError::NoFigure);
    }
    let t = (contrast * 0.45).clamp(p.min_contrast * 0.75, 110.0);
    let ink = Mask {
        width: w,
        height: h,
        data: d.iter().map(|&x| u8::from(x > t)).collect(),
    };
    let cr = (w.min(h) / 256).max(1);
    let closed = ink.dilate(cr).erode(cr);
    let filled = fill_holes(&closed);
    let (labels, areas) = components(&filled);
    let Some((best, &largest)) = areas.iter().enumerate().max_by_key(|(_, a)| **a) else {
        return Err(AnimateError::NoFigure);
    };
    if (largest as f32) < p.min_area_fraction * (wu * hu) as f32 {
        return Err(AnimateError::NoFigure);
    }
    let count = areas
        .iter()
        .filter(|&&a| a as f32 >= p.multi_figure_ratio * largest as f32)
        .count();
    if count > 1 {
        return Err(AnimateError::MultipleFigures { count });
    }
    let data = labels
        .iter()
        .map(|&l| u8::from(l == best as u32 + 1))
        .collect();
    Ok(Mask {
        width: w,
        height: h,
        data,
    })
}

/// Fill every background region not connected to the image border.
pub fn fill_holes(m: &Mask) -> Mask {
    let (w, h) = (m.width as usize, m.height as usize);
    let mut outside = vec![false; w * h];
    let mut stack = Vec::new();
    for x in 0..w {
        stack.push(x);
        stack.push((h - 1) * w + x);
    }
    for y in 0..h {
        stack.push(y * w);
        stack.push(y * w + w - 1);
    }
    while let Some(i) = stack.pop() {
        if outside[i] || m.data[i] != 0 {
            continue;
        }
        outside[i] = true;
        let (x, y) = (i % w, i / w);
        if x > 0 {
            stack.push(i - 1);
        }
        if x + 1 < w {
            stack.push(i + 1);
        }
        if y > 0 {
            stack.push(i - w);
        }
        if y + 1 < h {
            stack.push(i + w);
        }
    }
    Mask {
        width: m.width,
        height: m.height,
        data: outside.iter().map(|&o| u8::from(!o)).collect(),
    }
}

/// 8-connected components: a label per pixel (0 = background, k = component k-1) and areas.
pub fn components(m: &Mask) -> (Vec<u32>, Vec<usize>) {
    let (w, h) = (m.width as i64, m.height as i64);
    let mut labels = vec![0u32; m.data.len()];
    let mut areas = Vec::new();
    let mut stack = Vec::new();
    for start in 0..m.data.len() {
        if m.data[start] == 0 || labels[start] != 0 {
            continue;
        }
        let label = areas.len() as u32 + 1;
        let mut area = 0;
        labels[start] = label;
        stack.push(start);
        while let Some(i) = stack.pop() {
            area += 1;
            let (x, y) = ((i as i64) % w, (i as i64) / w);
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= w || ny >= h {
                        continue;
                    }
                    let j = (ny * w + nx) as usize;
                    if m.data[j] != 0 && labels[j] == 0 {
                        labels[j] = label;
                        stack.push(j);
                    }
                }
            }
        }
        areas.push(area);
    }
    (labels, areas)
}

fn morph(m: &Mask, r: u32, grow: bool) -> Mask {
    let (w, h) = (m.width as usize, m.height as usize);
    let r = r as usize;
    // One 1D pass along rows (stride 1) or columns (stride w); outside the image counts as
    // background, so erosion eats figures touching the border, as dilation can't grow past it.
    let pass = |src: &[u8], len: usize, lines: usize, step: usize, line_step: usize| {
        let mut out = vec![0u8; src.len()];
        for l in 0..lines {
            let base = l * line_step;
            for k in 0..len {
                let (lo, hi) = (k.saturating_sub(r), (k + r).min(len - 1));
                let v = if grow {
                    (lo..=hi).any(|j| src[base + j * step] != 0)
                } else {
                    k >= r && k + r < len && (lo..=hi).all(|j| src[base + j * step] != 0)
                };
                out[base + k * step] = u8::from(v);
            }
        }
        out
    };
    let a = pass(&m.data, w, h, 1, w);
    Mask {
        width: m.width,
        height: m.height,
        data: pass(&a, h, w, w, 1),
    }
}

/// Mean over a (2r+1)² window, clamped at the borders, via an integral image.
pub(crate) fn box_blur(v: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut ii = vec![0f64; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0f64;
        for x in 0..w {
            row += f64::from(v[y * w + x]);
            ii[(y + 1) * (w + 1) + x + 1] = ii[y * (w + 1) + x + 1] + row;
        }
    }
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let s = ii[y1 * (w + 1) + x1] - ii[y0 * (w + 1) + x1] - ii[y1 * (w + 1) + x0]
                + ii[y0 * (w + 1) + x0];
            out[y * w + x] = (s / ((x1 - x0) * (y1 - y0)) as f64) as f32;
        }
    }
    out
}

/// Maximum over a (2r+1)² window (separable, clamped at the borders; row-wise passes so the
/// vertical pass stays cache-friendly).
fn max_filter(v: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut a = vec![0f32; w * h];
    for y in 0..h {
        let row = &v[y * w..(y + 1) * w];
        for x in 0..w {
            let (lo, hi) = (x.saturating_sub(r), (x + r).min(w - 1));
            a[y * w + x] = row[lo..=hi].iter().copied().fold(f32::MIN, f32::max);
        }
    }
    let mut out = vec![f32::MIN; w * h];
    for y in 0..h {
        let (lo, hi) = (y.saturating_sub(r), (y + r).min(h - 1));
        let dst = &mut out[y * w..(y + 1) * w];
        for k in lo..=hi {
            for (d, s) in dst.iter_mut().zip(&a[k * w..(k + 1) * w]) {
                *d = d.max(*s);
            }
        }
    }
    out
}

/// Chamfer distance (5 per straight step, 7 per diagonal step) from each pixel of a
/// `width × height` row-major grid to the nearest pixel that is not `on` (outside the grid
/// counts as not on). Pixels that are not on read 0.
pub fn chamfer_distance(on: &[bool], width: usize, height: usize) -> Vec<u32> {
    let mut d: Vec<u32> = on
        .iter()
        .map(|&o| if o { u32::MAX / 2 } else { 0 })
        .collect();
    let (w, h) = (width as i64, height as i64);
    let idx = |x: i64, y: i64| (y * w + x) as usize;
    let relax = |d: &mut Vec<u32>, x: i64, y: i64, offs: &[(i64, i64, u32)]| {
        let i = idx(x, y);
        for &(dx, dy, c) in offs {
            let (nx, ny) = (x + dx, y + dy);
            let nd = if nx < 0 || ny < 0 || nx >= w || ny >= h {
                c
            } else {
                d[idx(nx, ny)] + c
            };
            if nd < d[i] {
                d[i] = nd;
            }
        }
    };
    let fwd = [(-1, 0, 5), (0, -1, 5), (-1, -1, 7), (1, -1, 7)];
    let bwd = [(1, 0, 5), (0, 1, 5), (1, 1, 7), (-1, 1, 7)];
    for y in 0..h {
        for x in 0..w {
            relax(&mut d, x, y, &fwd);
        }
    }
    for y in (0..h).rev() {
        for x in (0..w).rev() {
            relax(&mut d, x, y, &bwd);
        }
    }
    d
}
