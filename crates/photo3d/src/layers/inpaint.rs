//! Filling unknown pixels from known ones: multi-scale push-pull diffusion.
//!
//! Push-pull (Gortler et al., "The Lumigraph") builds a pyramid of weighted averages of the
//! known pixels ("pull"), then fills each level's gaps from the coarser level, blending by
//! how much was known ("push"). It is linear time, has no iteration count to tune and
//! always fills every pixel. The caller decides which pixels count as known: the layer
//! step passes only the *background side* of a depth edge, so foreground colour never
//! bleeds into the disoccluded region.

use crate::Plane;

/// Values per pixel carried through the pyramid.
pub const CHANNELS: usize = 4;

/// Fills the pixels of a `width`×`height` grid whose `weight` is 0 from those whose
/// weight is positive. `values` holds `CHANNELS` values per pixel; known pixels keep
/// theirs. With no known pixel at all the values are left as they are.
pub fn push_pull(width: usize, height: usize, values: &mut [[f32; CHANNELS]], weight: &[f32]) {
    debug_assert_eq!(values.len(), width * height);
    debug_assert_eq!(weight.len(), width * height);
    if width == 0 || height == 0 || !weight.iter().any(|&w| w > 0.0) {
        return;
    }
    // Level 0: premultiplied values and weights clamped to [0, 1].
    let mut levels: Vec<Level> = vec![Level {
        width,
        height,
        data: values
            .iter()
            .zip(weight)
            .map(|(v, &w)| {
                let w = w.clamp(0.0, 1.0);
                let mut out = [0f32; CHANNELS + 1];
                for c in 0..CHANNELS {
                    out[c] = v[c] * w;
                }
                out[CHANNELS] = w;
                out
            })
            .collect(),
    }];
    // Pull: halve until one pixel remains.
    while let Some(last) = levels.last() {
        if last.width == 1 && last.height == 1 {
            break;
        }
        let next = last.downsample();
        levels.push(next);
    }
    // Normalise the coarsest level.
    let Some(mut coarse) = levels.pop().map(|l| l.normalised()) else {
        return;
    };
    // Push: fill each finer level from the coarser one.
    while let Some(fine) = levels.pop() {
        let mut out = fine.clone();
        for y in 0..fine.height {
            for x in 0..fine.width {
                let i = y * fine.width + x;
                let w = fine.data[i][CHANNELS];
                let up = coarse.sample(
                    (x as f32 + 0.5) * coarse.width as f32 / fine.width as f32 - 0.5,
                    (y as f32 + 0.5) * coarse.height as f32 / fine.height as f32 - 0.5,
                );
                let mut px = [0f32; CHANNELS + 1];
                // Known part (premultiplied) + the unknown part from the coarse level.
                for ((p, &known), &coarse) in
                    px.iter_mut().zip(&fine.data[i]).zip(&up).take(CHANNELS)
                {
                    *p = known + (1.0 - w) * coarse;
                }
                px[CHANNELS] = 1.0;
                out.data[i] = px;
            }
        }
        coarse = out;
    }
    for ((v, &w), px) in values.iter_mut().zip(weight).zip(&coarse.data) {
        if w <= 0.0 {
            v.copy_from_slice(&px[..CHANNELS]);
        }
    }
}

/// Fills the unknown pixels (`known[i] == false`) of a plane from the known ones.
pub fn fill_plane(plane: &Plane, known: &[bool]) -> Plane {
    let (w, h) = (plane.width() as usize, plane.height() as usize);
    let mut values: Vec<[f32; CHANNELS]> =
        plane.data().iter().map(|&v| [v, 0.0, 0.0, 0.0]).collect();
    let weight: Vec<f32> = known.iter().map(|&k| if k { 1.0 } else { 0.0 }).collect();
    push_pull(w, h, &mut values, &weight);
    let mut out = plane.clone();
    for (o, v) in out.data_mut().iter_mut().zip(&values) {
        *o = v[0];
    }
    out
}

#[derive(Debug, Clone)]
struct Level {
    width: usize,
    height: usize,
    /// Premultiplied channels and the weight (last), weight in [0, 1].
    data: Vec<[f32; CHANNELS + 1]>,
}

impl Level {
    fn downsample(&self) -> Level {
        let width = self.width.div_ceil(2);
        let height = self.height.div_ceil(2);
        let mut data = vec![[0f32; CHANNELS + 1]; width * height];
        for y in 0..height {
            for x in 0..width {
                let mut acc = [0f32; CHANNELS + 1];
                for dy in 0..2 {
                    for dx in 0..2 {
                        let (sx, sy) = (2 * x + dx, 2 * y + dy);
                        if sx < self.width && sy < self.height {
                            let s = &self.data[sy * self.width + sx];
                            for c in 0..=CHANNELS {
                                acc[c] += s[c];
                            }
                        }
                    }
                }
                // A coarse pixel is "fully known" once it has a pixel's worth of weight.
                let w = acc[CHANNELS];
                if w > 1.0 {
                    for a in &mut acc {
                        *a /= w;
                    }
                }
                data[y * width + x] = acc;
            }
        }
        Level {
            width,
            height,
            data,
        }
    }

    fn normalised(mut self) -> Level {
        for px in &mut self.data {
            let w = px[CHANNELS];
            if w > 0.0 {
                for v in px.iter_mut().take(CHANNELS) {
                    *v /= w;
                }
            }
            px[CHANNELS] = 1.0;
        }
        self
    }

    /// Bilinear sample of a fully known (normalised) level, clamped at the border.
    fn sample(&self, fx: f32, fy: f32) -> [f32; CHANNELS + 1] {
        let fx = fx.clamp(0.0, (self.width - 1) as f32);
        let fy = fy.clamp(0.0, (self.height - 1) as f32);
        let x0 = fx.floor() as usize;
        let y0 = fy.floor() as usize;
        let x1 = (x0 + 1).min(self.width - 1);
        let y1 = (y0 + 1).min(self.height - 1);
        let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
        let p = |x: usize, y: usize| &self.data[y * self.width + x];
        let mut out = [0f32; CHANNELS + 1];
        for (c, o) in out.iter_mut().enumerate() {
            let top = p(x0, y0)[c] * (1.0 - ax) + p(x1, y0)[c] * ax;
            let bottom = p(x0, y1)[c] * (1.0 - ax) + p(x1, y1)[c] * ax;
            *o = top * (1.0 - ay) + bottom * ay;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_pixels_are_kept_and_every_unknown_pixel_is_filled_between_them() {
        // A 16x1 row: left end 0, right end 1, unknown between.
        let mut values = vec![[0f32; CHANNELS]; 16];
        let mut weight = vec![0f32; 16];
        values[0][0] = 0.0;
        weight[0] = 1.0;
        values[15][0] = 1.0;
        weight[15] = 1.0;
        push_pull(16, 1, &mut values, &weight);
        assert_eq!(values[0][0], 0.0);
        assert_eq!(values[15][0], 1.0);
        for v in &values {
            assert!(v[0].is_finite() && (0.0..=1.0).contains(&v[0]));
        }
        // Nearer the right end, nearer its value.
        assert!(values[12][0] > values[3][0]);
    }

    #[test]
    fn a_region_surrounded_by_one_value_is_filled_with_that_value() {
        let (w, h) = (20, 20);
        let mut values = vec![[0.25f32, 0.5, 0.75, 1.0]; w * h];
        let mut weight = vec![1f32; w * h];
        for y in 5..15 {
            for x in 5..15 {
                values[y * w + x] = [9.0; CHANNELS];
                weight[y * w + x] = 0.0;
            }
        }
        push_pull(w, h, &mut values, &weight);
        for v in &values {
            for (c, expected) in [0.25, 0.5, 0.75, 1.0].iter().enumerate() {
                assert!((v[c] - expected).abs() < 1e-5, "{v:?}");
            }
        }
    }
}
