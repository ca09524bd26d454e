//! A single-channel `f32` image ("plane") and the filters the pipeline needs on it:
//! bilinear resizing, box means by integral images, the guided filter (edge-aware
//! smoothing), and normalisation.

/// A dense row-major `f32` image.
#[derive(Debug, Clone, PartialEq)]
pub struct Plane {
    width: u32,
    height: u32,
    data: Vec<f32>,
}

impl Plane {
    /// A plane of `width`×`height` filled with `value`.
    pub fn filled(width: u32, height: u32, value: f32) -> Self {
        Self {
            width,
            height,
            data: vec![value; width as usize * height as usize],
        }
    }

    /// Wraps `data` (row-major); `None` if the length does not match.
    pub fn from_vec(width: u32, height: u32, data: Vec<f32>) -> Option<Self> {
        (data.len() == width as usize * height as usize).then_some(Self {
            width,
            height,
            data,
        })
    }

    /// Builds a plane by evaluating `f(x, y)` at every pixel.
    pub fn from_fn(width: u32, height: u32, mut f: impl FnMut(u32, u32) -> f32) -> Self {
        let mut data = Vec::with_capacity(width as usize * height as usize);
        for y in 0..height {
            for x in 0..width {
                data.push(f(x, y));
            }
        }
        Self {
            width,
            height,
            data,
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The values, row-major, mutable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// The value at `(x, y)`; the caller keeps `x < width`, `y < height`.
    #[inline]
    pub fn at(&self, x: u32, y: u32) -> f32 {
        self.data[y as usize * self.width as usize + x as usize]
    }

    /// The value at `(x, y)` clamped to the border.
    #[inline]
    pub fn at_clamped(&self, x: i64, y: i64) -> f32 {
        let x = x.clamp(0, i64::from(self.width) - 1) as u32;
        let y = y.clamp(0, i64::from(self.height) - 1) as u32;
        self.at(x, y)
    }

    /// Sets the value at `(x, y)`.
    #[inline]
    pub fn set(&mut self, x: u32, y: u32, v: f32) {
        let w = self.width as usize;
        self.data[y as usize * w + x as usize] = v;
    }

    /// Smallest and largest finite values (`(0, 0)` for an empty plane).
    pub fn min_max(&self) -> (f32, f32) {
        let mut lo = f32::INFINITY;
        let mut hi = f32::NEG_INFINITY;
        for &v in &self.data {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        if lo > hi { (0.0, 0.0) } else { (lo, hi) }
    }

    /// Rescales the values linearly to `[0, 1]`; a constant plane becomes all `0.5`.
    /// Non-finite values become `0`.
    pub fn normalised(mut self) -> Self {
        let (lo, hi) = self.min_max();
        let span = hi - lo;
        for v in &mut self.data {
            *v = if !v.is_finite() {
                0.0
            } else if span > 1e-12 {
                (*v - lo) / span
            } else {
                0.5
            };
        }
        self
    }

    /// Bilinear resampling to `width`×`height` (pixel centres aligned, as OpenCV's
    /// `INTER_LINEAR` and PyTorch's `align_corners=False`).
    pub fn resized(&self, width: u32, height: u32) -> Self {
        if width == self.width && height == self.height {
            return self.clone();
        }
        let sx = self.width as f32 / width.max(1) as f32;
        let sy = self.height as f32 / height.max(1) as f32;
        Self::from_fn(width, height, |x, y| {
            let fx = ((x as f32 + 0.5) * sx - 0.5).max(0.0);
            let fy = ((y as f32 + 0.5) * sy - 0.5).max(0.0);
            self.sample_bilinear(fx, fy)
        })
    }

    /// Bilinear sample at a continuous position (pixel centres at integers), clamped.
    pub fn sample_bilinear(&self, fx: f32, fy: f32) -> f32 {
        let x0 = fx.floor();
        let y0 = fy.floor();
        let ax = fx - x0;
        let ay = fy - y0;
        let (x0, y0) = (x0 as i64, y0 as i64);
        let a = self.at_clamped(x0, y0);
        let b = self.at_clamped(x0 + 1, y0);
        let c = self.at_clamped(x0, y0 + 1);
        let d = self.at_clamped(x0 + 1, y0 + 1);
        let top = a + (b - a) * ax;
        let bottom = c + (d - c) * ax;
        top + (bottom - top) * ay
    }

    /// The mean over the `(2r+1)²` window around each pixel (window clipped at the border).
    pub fn box_mean(&self, r: u32) -> Self {
        let w = self.width as usize;
        let h = self.height as usize;
        let mut integral = vec![0f64; (w + 1) * (h + 1)];
        for y in 0..h {
            let mut row = 0f64;
            for x in 0..w {
                row += f64::from(self.data[y * w + x]);
                integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + row;
            }
        }
        let r = r as usize;
        Self::from_fn(self.width, self.height, |x, y| {
            let (x, y) = (x as usize, y as usize);
            let x0 = x.saturating_sub(r);
            let y0 = y.saturating_sub(r);
            let x1 = (x + r + 1).min(w);
            let y1 = (y + r + 1).min(h);
            let sum = integral[y1 * (w + 1) + x1]
                - integral[y0 * (w + 1) + x1]
                - integral[y1 * (w + 1) + x0]
                + integral[y0 * (w + 1) + x0];
            (sum / ((x1 - x0) * (y1 - y0)) as f64) as f32
        })
    }

    fn zip(&self, other: &Plane, f: impl Fn(f32, f32) -> f32) -> Plane {
        Plane {
            width: self.width,
            height: self.height,
            data: self
                .data
                .iter()
                .zip(&other.data)
                .map(|(&a, &b)| f(a, b))
                .collect(),
        }
    }

    /// He et al.'s guided filter: smooths `self` while following the edges of `guide`
    /// (same size). `r` is the window radius, `eps` the regularisation (in squared
    /// guide units): small `eps` keeps more edges.
    pub fn guided_by(&self, guide: &Plane, r: u32, eps: f32) -> Plane {
        let mean_i = guide.box_mean(r);
        let mean_p = self.box_mean(r);
        let corr_ip = guide.zip(self, |i, p| i * p).box_mean(r);
        let corr_ii = guide.zip(guide, |i, _| i * i).box_mean(r);
        let var_i = corr_ii.zip(&mean_i, |c, m| c - m * m);
        let mean_ip = mean_i.zip(&mean_p, |i, p| i * p);
        let cov_ip = corr_ip.zip(&mean_ip, |c, m| c - m);
        let a = cov_ip.zip(&var_i, |c, v| c / (v + eps));
        let b = mean_p.zip(&a.zip(&mean_i, |a, m| a * m), |p, am| p - am);
        let mean_a = a.box_mean(r);
        let mean_b = b.box_mean(r);
        mean_a.zip(guide, |a, i| a * i).zip(&mean_b, |ai, b| ai + b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_mean_of_a_ramp_is_the_ramp_inside_and_clipped_at_the_border() {
        let p = Plane::from_fn(5, 1, |x, _| x as f32);
        let m = p.box_mean(1);
        assert_eq!(m.data(), &[0.5, 1.0, 2.0, 3.0, 3.5]);
    }

    #[test]
    fn resizing_to_the_same_size_is_the_identity_and_upsampling_interpolates() {
        let p = Plane::from_fn(2, 1, |x, _| x as f32 * 4.0);
        assert_eq!(p.resized(2, 1), p);
        let up = p.resized(4, 1);
        assert_eq!(up.data(), &[0.0, 1.0, 3.0, 4.0]);
    }

    #[test]
    fn the_guided_filter_keeps_a_step_in_the_guide_and_removes_noise() {
        let guide = Plane::from_fn(40, 10, |x, _| if x < 20 { 0.0 } else { 1.0 });
        let noisy = Plane::from_fn(40, 10, |x, y| {
            let base = if x < 20 { 0.2 } else { 0.8 };
            base + if (x + y) % 2 == 0 { 0.05 } else { -0.05 }
        });
        let out = noisy.guided_by(&guide, 3, 1e-3);
        assert!((out.at(10, 5) - 0.2).abs() < 0.02, "{}", out.at(10, 5));
        assert!((out.at(30, 5) - 0.8).abs() < 0.02, "{}", out.at(30, 5));
        // The step survives: neighbours across it stay far apart.
        assert!(out.at(20, 5) - out.at(19, 5) > 0.5);
    }

    #[test]
    fn a_constant_plane_normalises_to_one_half() {
        let p = Plane::filled(3, 3, 7.0).normalised();
        assert!(p.data().iter().all(|&v| v == 0.5));
    }
}
