//! Depth discontinuities: where the mesh is cut.
//!
//! Two neighbouring pixels (8-neighbourhood) are *cut apart* when their disparities differ
//! both in ratio (`near / far > 1 + ratio`, the test 3d-photo-inpainting uses) and in
//! absolute step (so that noise in the far background, where ratios are large but the
//! parallax is tiny, does not shred the mesh). The near pixel of each cut link is an
//! *edge pixel*; edge pixels are linked into 8-connected edges, and edges shorter than a
//! minimum are dropped (their links are joined again), which removes isolated specks.
//! Before the test, soft depth ramps (learned depth blurs object boundaries over a few
//! pixels) are sharpened into steps by a shock filter, so the cut falls on one pixel.

/// Link to the right neighbour `(x+1, y)`.
pub const H: u8 = 1;
/// Link to the neighbour below `(x, y+1)`.
pub const V: u8 = 2;
/// Link to the neighbour below-right `(x+1, y+1)`.
pub const D1: u8 = 4;
/// Link to the neighbour below-left `(x-1, y+1)`.
pub const D2: u8 = 8;

/// The 8 neighbour offsets.
pub const NEIGHBOURS: [(i64, i64); 8] = [
    (1, 0),
    (-1, 0),
    (0, 1),
    (0, -1),
    (1, 1),
    (-1, -1),
    (-1, 1),
    (1, -1),
];

/// Thresholds of the discontinuity test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EdgeThresholds {
    /// Minimum disparity ratio minus one (`0.04` = 4 %).
    pub ratio: f32,
    /// Minimum absolute disparity step.
    pub step: f32,
}

impl EdgeThresholds {
    /// Whether disparities `a` and `b` are cut apart.
    #[inline]
    pub fn is_cut(&self, a: f32, b: f32) -> bool {
        let (near, far) = if a > b { (a, b) } else { (b, a) };
        near - far >= self.step && near > far * (1.0 + self.ratio)
    }
}

/// Cut links of a `width`×`height` grid: one bit per link ([`H`], [`V`], [`D1`], [`D2`])
/// stored at the link's upper (then left) pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cuts {
    width: usize,
    height: usize,
    bits: Vec<u8>,
}

impl Cuts {
    /// No cuts.
    pub fn none(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            bits: vec![0; width * height],
        }
    }

    /// Grid width.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Grid height.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The stored bits of the pixel at index `i`.
    #[inline]
    pub fn bits(&self, i: usize) -> u8 {
        self.bits[i]
    }

    /// Where the link between `(x, y)` and `(x+dx, y+dy)` is stored, if both are inside.
    #[inline]
    fn slot(&self, x: usize, y: usize, dx: i64, dy: i64) -> Option<(usize, u8)> {
        let nx = x as i64 + dx;
        let ny = y as i64 + dy;
        if nx < 0 || ny < 0 || nx >= self.width as i64 || ny >= self.height as i64 {
            return None;
        }
        let (bx, by, bit) = match (dx, dy) {
            (1, 0) => (x as i64, y as i64, H),
            (-1, 0) => (nx, ny, H),
            (0, 1) => (x as i64, y as i64, V),
            (0, -1) => (nx, ny, V),
            (1, 1) => (x as i64, y as i64, D1),
            (-1, -1) => (nx, ny, D1),
            (-1, 1) => (x as i64, y as i64, D2),
            (1, -1) => (nx, ny, D2),
            _ => return None,
        };
        Some((by as usize * self.width + bx as usize, bit))
    }

    /// Whether `(x, y)` and its neighbour at `(dx, dy)` are cut apart (`false` outside).
    #[inline]
    pub fn is_cut(&self, x: usize, y: usize, dx: i64, dy: i64) -> bool {
        self.slot(x, y, dx, dy)
            .is_some_and(|(i, bit)| self.bits[i] & bit != 0)
    }

    fn set(&mut self, x: usize, y: usize, dx: i64, dy: i64, cut: bool) {
        if let Some((i, bit)) = self.slot(x, y, dx, dy) {
            if cut {
                self.bits[i] |= bit;
            } else {
                self.bits[i] &= !bit;
            }
        }
    }

    /// Number of cut links.
    pub fn count(&self) -> usize {
        self.bits.iter().map(|b| b.count_ones() as usize).sum()
    }
}

/// Tests every link of the grid; pixels outside `member` (when given) have no links.
pub fn detect(
    disparity: &[f32],
    width: usize,
    height: usize,
    thresholds: EdgeThresholds,
    member: Option<&[bool]>,
) -> Cuts {
    let mut cuts = Cuts::none(width, height);
    let inside = |i: usize| member.is_none_or(|m| m[i]);
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            if !inside(i) {
                continue;
            }
            for (dx, dy) in [(1, 0), (0, 1), (1, 1), (-1, 1)] {
                let nx = x as i64 + dx;
                let ny = y as i64 + dy;
                if nx < 0 || nx >= width as i64 || ny >= height as i64 {
                    continue;
                }
                let j = ny as usize * width + nx as usize;
                if inside(j) && thresholds.is_cut(disparity[i], disparity[j]) {
                    cuts.set(x, y, dx, dy, true);
                }
            }
        }
    }
    cuts
}

/// Shock filter: where the 3×3 range exceeds `step`, snap each pixel to the nearer of
/// the local minimum and maximum. Turns soft ramps into one-pixel steps and leaves
/// smooth surfaces (small local range) and existing steps unchanged.
pub fn sharpen(disparity: &mut [f32], width: usize, height: usize, step: f32, iterations: u32) {
    for _ in 0..iterations {
        let src = disparity.to_vec();
        for y in 0..height {
            for x in 0..width {
                let mut lo = f32::INFINITY;
                let mut hi = f32::NEG_INFINITY;
                for dy in -1i64..=1 {
                    for dx in -1i64..=1 {
                        let nx = (x as i64 + dx).clamp(0, width as i64 - 1) as usize;
                        let ny = (y as i64 + dy).clamp(0, height as i64 - 1) as usize;
                        let v = src[ny * width + nx];
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
                if hi - lo >= step {
                    let v = src[y * width + x];
                    disparity[y * width + x] = if v - lo < hi - v { lo } else { hi };
                }
            }
        }
    }
}

/// One linked depth edge: the near-side pixels of a connected run of cut links.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeRun {
    /// Pixel indices (row-major in the grid) of the near side.
    pub pixels: Vec<usize>,
    /// Mean disparity of the near side.
    pub near: f32,
    /// Mean disparity of the far side (over the cut neighbours).
    pub far: f32,
}

/// Links edge pixels into 8-connected runs, drops runs shorter than `min_pixels` (joining
/// their links again) and returns the runs kept.
pub fn link_and_clean(cuts: &mut Cuts, disparity: &[f32], min_pixels: usize) -> Vec<EdgeRun> {
    let (w, h) = (cuts.width, cuts.height);
    // Near-side pixels: for each cut link, the pixel with the larger disparity.
    let mut near = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            for &(dx, dy) in &NEIGHBOURS {
                if cuts.is_cut(x, y, dx, dy) {
                    let j = (y as i64 + dy) as usize * w + (x as i64 + dx) as usize;
                    if disparity[i] > disparity[j] {
                        near[i] = true;
                    }
                }
            }
        }
    }
    let mut label = vec![usize::MAX; w * h];
    let mut runs = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !near[start] || label[start] != usize::MAX {
            continue;
        }
        let id = runs.len();
        let mut pixels = Vec::new();
        label[start] = id;
        stack.push(start);
        while let Some(i) = stack.pop() {
            pixels.push(i);
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            for &(dx, dy) in &NEIGHBOURS {
                let (nx, ny) = (x + dx, y + dy);
                if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                    continue;
                }
                let j = ny as usize * w + nx as usize;
                if near[j] && label[j] == usize::MAX {
                    label[j] = id;
                    stack.push(j);
                }
            }
        }
        runs.push(pixels);
    }
    let mut kept = Vec::new();
    for pixels in runs {
        if pixels.len() < min_pixels {
            for &i in &pixels {
                let (x, y) = (i % w, i / w);
                for &(dx, dy) in &NEIGHBOURS {
                    if cuts.is_cut(x, y, dx, dy) {
                        let j = (y as i64 + dy) as usize * w + (x as i64 + dx) as usize;
                        if disparity[i] > disparity[j] {
                            cuts.set(x, y, dx, dy, false);
                        }
                    }
                }
            }
            continue;
        }
        let mut far_sum = 0f64;
        let mut far_n = 0usize;
        let mut near_sum = 0f64;
        for &i in &pixels {
            near_sum += f64::from(disparity[i]);
            let (x, y) = (i % w, i / w);
            for &(dx, dy) in &NEIGHBOURS {
                if cuts.is_cut(x, y, dx, dy) {
                    let j = (y as i64 + dy) as usize * w + (x as i64 + dx) as usize;
                    if disparity[j] < disparity[i] {
                        far_sum += f64::from(disparity[j]);
                        far_n += 1;
                    }
                }
            }
        }
        kept.push(EdgeRun {
            near: (near_sum / pixels.len() as f64) as f32,
            far: (far_sum / far_n.max(1) as f64) as f32,
            pixels,
        });
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: EdgeThresholds = EdgeThresholds {
        ratio: 0.05,
        step: 0.05,
    };

    #[test]
    fn a_step_is_cut_on_every_link_across_it_and_a_smooth_ramp_is_not() {
        // 8x4: left half disparity 1.0, right half 0.5.
        let d: Vec<f32> = (0..32).map(|i| if i % 8 < 4 { 1.0 } else { 0.5 }).collect();
        let cuts = detect(&d, 8, 4, T, None);
        assert!(cuts.is_cut(3, 1, 1, 0));
        assert!(cuts.is_cut(4, 1, -1, 0), "links are symmetric");
        assert!(cuts.is_cut(3, 1, 1, 1) && cuts.is_cut(3, 1, 1, -1));
        assert!(!cuts.is_cut(2, 1, 1, 0) && !cuts.is_cut(3, 1, 0, 1));
        // 4 rows x (1 horizontal + 2 diagonals, minus the 2 diagonals leaving the grid).
        assert_eq!(cuts.count(), 4 + 3 + 3);
        let ramp: Vec<f32> = (0..32).map(|i| 0.5 + (i % 8) as f32 * 0.01).collect();
        assert_eq!(detect(&ramp, 8, 4, T, None).count(), 0);
    }

    #[test]
    fn short_runs_are_dropped_and_their_links_joined_again() {
        // A long vertical edge and a 1-pixel speck.
        let mut d: Vec<f32> = (0..400)
            .map(|i| if i % 20 < 10 { 1.0 } else { 0.4 })
            .collect();
        d[15 * 20 + 15] = 1.0; // speck on the far side
        let mut cuts = detect(&d, 20, 20, T, None);
        let runs = link_and_clean(&mut cuts, &d, 5);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].pixels.len(), 20);
        assert!(runs[0].pixels.iter().all(|&i| i % 20 == 9));
        assert!((runs[0].near - 1.0).abs() < 1e-6 && (runs[0].far - 0.4).abs() < 1e-6);
        assert!(!cuts.is_cut(15, 15, 1, 0), "the speck is joined again");
    }

    #[test]
    fn sharpening_turns_a_soft_boundary_into_a_one_pixel_step() {
        let mut d = vec![1.0, 1.0, 1.0, 0.8, 0.6, 0.4, 0.4, 0.4];
        sharpen(&mut d, 8, 1, 0.3, 2);
        let steps = d.windows(2).filter(|w| (w[0] - w[1]).abs() > 0.01).count();
        assert_eq!(steps, 1, "{d:?}");
        let mut smooth: Vec<f32> = (0..8).map(|i| i as f32 * 0.01).collect();
        let before = smooth.clone();
        sharpen(&mut smooth, 8, 1, 0.3, 2);
        assert_eq!(smooth, before);
    }
}
