//! The scale pyramid: OpenCV-exact bilinear downscaling and the integral images of each level.
//!
//! OpenCV keeps the detection window fixed and shrinks the image. Every level is resized from the
//! original image (not from the previous level) with `INTER_LINEAR` in 11-bit fixed point, and
//! its integral images are packed side by side into shared planes of one row stride
//! (`FeatureEvaluator::updateScaleData`), so feature offsets are computed once for all levels.

use rayon::prelude::*;

use crate::image::GrayImage;

/// One pyramid level.
#[derive(Debug, Clone)]
pub(crate) struct Level {
    /// The factor the image was divided by (OpenCV keeps it as `float`).
    pub scale: f32,
    /// Size of the resized image.
    pub width: usize,
    pub height: usize,
    /// Window step in both directions: 2 below factor 2, then 1.
    pub step: usize,
    /// Index of this level's integral (0, 0) in the shared planes.
    pub offset: usize,
}

/// Reuse of the integral planes between detections.
///
/// A 640×480 pyramid needs about 20 MB of planes; allocating them afresh for every image costs
/// page faults (and, from rayon threads, glibc returns them to the kernel each time). A few are
/// kept for the next call instead.
pub mod scratch {
    use std::sync::Mutex;

    use super::Planes;

    /// Planes kept between calls.
    const KEEP: usize = 2;
    /// Planes larger than this many cells are not kept.
    const MAX_CELLS: usize = 1 << 24;

    static POOL: Mutex<Vec<Planes>> = Mutex::new(Vec::new());

    pub(crate) fn take() -> Planes {
        let pooled = POOL.lock().map(|mut p| p.pop()).unwrap_or(None);
        pooled.unwrap_or(Planes {
            stride: 0,
            sum: Vec::new(),
            sqsum: Vec::new(),
            tilted: Vec::new(),
        })
    }

    pub(crate) fn give_back(planes: Planes) {
        if planes.sum.capacity() > MAX_CELLS {
            return;
        }
        if let Ok(mut pool) = POOL.lock()
            && pool.len() < KEEP
        {
            pool.push(planes);
        }
    }

    /// Frees the integral-image buffers kept between detections (at most two, of at most
    /// 64 MiB per plane). They are reallocated on demand; call this after a burst of large
    /// images to return the memory.
    pub fn release() {
        if let Ok(mut pool) = POOL.lock() {
            pool.clear();
        }
    }
}

/// The packed integral planes of every level.
pub(crate) struct Planes {
    pub stride: usize,
    pub sum: Vec<i32>,
    pub sqsum: Vec<u32>,
    /// Empty unless the cascade has tilted features.
    pub tilted: Vec<i32>,
}

/// Lays the levels out in shelves of `stride` columns, as OpenCV does. Returns the stride and
/// the number of rows of the planes.
pub(crate) fn layout(levels: &mut [Level]) -> (usize, usize) {
    let Some(first) = levels.first() else {
        return (0, 0);
    };
    let stride = (first.width + 31).div_ceil(32) * 32;
    let (mut x, mut y, mut shelf_h) = (0usize, 0usize, first.height + 1);
    for level in levels.iter_mut() {
        let (w, h) = (level.width + 1, level.height + 1);
        if x + w > stride {
            y += shelf_h;
            x = 0;
            shelf_h = h;
        }
        level.offset = y * stride + x;
        x += w;
    }
    (stride, y + shelf_h)
}

/// Lays the levels out (setting their offsets) and builds every level's resized image and
/// integral images, in parallel over levels.
pub(crate) fn build(image: &GrayImage<'_>, levels: &mut [Level], with_tilted: bool) -> Planes {
    let (stride, rows) = layout(levels);
    let levels: &[Level] = levels;
    let n = stride * rows;
    // The padding lets the SIMD scan read a few lanes past a level's last column.
    let len = n + crate::lanes::LANES;
    let mut planes = scratch::take();
    planes.stride = stride;
    // Stale values from an earlier call may remain in cells no window reads (gaps between
    // levels, padding); every cell a window reads is written below.
    planes.sum.resize(len, 0);
    planes.sqsum.resize(len, 0);
    planes.tilted.resize(if with_tilted { len } else { 0 }, 0);
    if n == 0 {
        return planes;
    }

    // Hand each level the row segments it owns: safe disjoint borrows of the shared planes.
    let mut jobs: Vec<LevelJob<'_>> = levels
        .iter()
        .map(|l| LevelJob {
            level: l,
            sum: Vec::with_capacity(l.height + 1),
            sqsum: Vec::with_capacity(l.height + 1),
            tilted: Vec::with_capacity(if with_tilted { l.height + 1 } else { 0 }),
        })
        .collect();
    distribute(&mut planes.sum, stride, levels, &mut jobs, |j| &mut j.sum);
    distribute(&mut planes.sqsum, stride, levels, &mut jobs, |j| {
        &mut j.sqsum
    });
    if with_tilted {
        distribute(&mut planes.tilted, stride, levels, &mut jobs, |j| {
            &mut j.tilted
        });
    }

    jobs.par_iter_mut().for_each(|job| {
        let resized = resize_linear(image, job.level.width, job.level.height);
        integrals(&resized, job);
    });
    planes
}

struct LevelJob<'a> {
    level: &'a Level,
    sum: Vec<&'a mut [i32]>,
    sqsum: Vec<&'a mut [u32]>,
    tilted: Vec<&'a mut [i32]>,
}

/// Splits `plane` into per-level row segments (`width + 1` cells for each of `height + 1` rows).
fn distribute<'a, T>(
    plane: &'a mut [T],
    stride: usize,
    levels: &[Level],
    jobs: &mut [LevelJob<'a>],
    pick: impl for<'j> Fn(&'j mut LevelJob<'a>) -> &'j mut Vec<&'a mut [T]>,
) {
    // Levels sharing a shelf row are ordered left to right; collect (row, x, level) spans.
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    for (i, l) in levels.iter().enumerate() {
        let (y0, x0) = (l.offset / stride, l.offset % stride);
        for r in 0..=l.height {
            spans.push((y0 + r, x0, i));
        }
    }
    spans.sort_unstable();
    let mut rows = plane.chunks_exact_mut(stride).enumerate();
    let mut current: Option<(usize, &'a mut [T])> = None;
    let mut consumed = 0usize;
    for (row, x0, i) in spans {
        if current.as_ref().map(|c| c.0) != Some(row) {
            current = rows.by_ref().find(|(r, _)| *r == row);
            consumed = 0;
        }
        let Some((_, rest)) = current.take() else {
            return;
        };
        let w = levels[i].width + 1;
        let (_, tail) = rest.split_at_mut(x0 - consumed);
        let (mine, tail) = tail.split_at_mut(w);
        consumed = x0 + w;
        pick(&mut jobs[i]).push(mine);
        current = Some((row, tail));
    }
}

/// Integral sum, squared sum and (optionally) 45° tilted sum of `img`, written into the job's rows.
///
/// All arithmetic wraps modulo 2^32 like OpenCV's `CV_32S` integrals, so window sums (differences
/// of four corners) are exact whenever the true window sum fits.
fn integrals(img: &Resized, job: &mut LevelJob<'_>) {
    let (w, h) = (img.width, img.height);
    let with_tilted = !job.tilted.is_empty();
    job.sum[0].fill(0);
    job.sqsum[0].fill(0);
    if with_tilted {
        job.tilted[0].fill(0);
    }
    // Tilted sums through two diagonal accumulations of row prefix sums:
    //   T(X, Y) = U(X, Y) - V(X, Y)
    //   U(X, Y) = U(X + 1, Y - 1) + P(Y - 1, X)   (U(W + 1, Y - 1) = S(W, Y - 1))
    //   V(X, Y) = V(X - 1, Y - 1) + P(Y - 1, X - 1), V(0, Y) = 0
    // where P(y, X) is the sum of the first X pixels of row y and S the upright integral.
    let mut prefix = vec![0i32; if with_tilted { w + 1 } else { 0 }];
    let mut u = vec![0i32; if with_tilted { w + 1 } else { 0 }];
    let mut v = vec![0i32; if with_tilted { w + 1 } else { 0 }];
    let mut u_next = u.clone();
    let mut v_next = v.clone();
    for y in 0..h {
        let src = &img.data[y * w..(y + 1) * w];
        let (above_s, below_s) = job.sum.split_at_mut(y + 1);
        let (prev_s, cur_s) = (&above_s[y], &mut below_s[0]);
        let (above_q, below_q) = job.sqsum.split_at_mut(y + 1);
        let (prev_q, cur_q) = (&above_q[y], &mut below_q[0]);
        let mut s = 0i32;
        let mut q = 0u32;
        cur_s[0] = 0;
        cur_q[0] = 0;
        let cells = cur_s[1..=w]
            .iter_mut()
            .zip(&prev_s[1..=w])
            .zip(cur_q[1..=w].iter_mut().zip(&prev_q[1..=w]));
        for (((cs, &ps), (cq, &pq)), &p) in cells.zip(src) {
            s = s.wrapping_add(i32::from(p));
            q = q.wrapping_add(u32::from(p) * u32::from(p));
            *cs = ps.wrapping_add(s);
            *cq = pq.wrapping_add(q);
        }
        if with_tilted {
            let mut acc = 0i32;
            prefix[0] = 0;
            for x in 0..w {
                acc = acc.wrapping_add(i32::from(src[x]));
                prefix[x + 1] = acc;
            }
            // S(W, y) is the upright integral of the row above's last column.
            let s_w_prev = prev_s[w];
            for x in 0..=w {
                let up_right = if x < w { u[x + 1] } else { s_w_prev };
                u_next[x] = up_right.wrapping_add(prefix[x]);
                v_next[x] = if x == 0 {
                    0
                } else {
                    v[x - 1].wrapping_add(prefix[x - 1])
                };
            }
            std::mem::swap(&mut u, &mut u_next);
            std::mem::swap(&mut v, &mut v_next);
            let t = &mut job.tilted[y + 1];
            for x in 0..=w {
                t[x] = u[x].wrapping_sub(v[x]);
            }
        }
    }
}

/// A resized 8-bit image, tightly packed.
pub(crate) struct Resized {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

/// `cv::resize(src, dst, Size(dw, dh), 0, 0, INTER_LINEAR_EXACT)` for 8-bit single-channel
/// images, as OpenCV 4's cascade detector resizes each pyramid level (including the exact 2×
/// `INTER_AREA` shortcut and the plain copy when the size does not change).
pub(crate) fn resize_linear(src: &GrayImage<'_>, dw: usize, dh: usize) -> Resized {
    let (sw, sh) = (src.width() as usize, src.height() as usize);
    let mut data = vec![0u8; dw * dh];
    if dw == 0 || dh == 0 {
        return Resized {
            width: dw,
            height: dh,
            data,
        };
    }
    if dw == sw && dh == sh {
        for y in 0..dh {
            data[y * dw..(y + 1) * dw].copy_from_slice(src.row(y));
        }
    } else if sw == 2 * dw && sh == 2 * dh {
        // OpenCV switches INTER_LINEAR to the fast INTER_AREA path for exact halving.
        for y in 0..dh {
            let (r0, r1) = (src.row(2 * y), src.row(2 * y + 1));
            for (x, out) in data[y * dw..(y + 1) * dw].iter_mut().enumerate() {
                let s = u32::from(r0[2 * x])
                    + u32::from(r0[2 * x + 1])
                    + u32::from(r1[2 * x])
                    + u32::from(r1[2 * x + 1]);
                *out = ((s + 2) >> 2) as u8;
            }
        }
    } else {
        resize_bilinear(src, dw, dh, &mut data);
    }
    Resized {
        width: dw,
        height: dh,
        data,
    }
}

/// Source index and 8-bit fixed-point weights for each destination coordinate, plus the range
/// `[min, max)` of coordinates that interpolate (outside it OpenCV replicates the edge pixel).
/// This is OpenCV's `interpolationLinear` of the bit-exact resize: positions in double
/// precision, weights rounded half to even to 1/256.
struct Axis {
    index: Vec<usize>,
    weights: Vec<[u32; 2]>,
    min: usize,
    max: usize,
}

fn axis(src_len: usize, dst_len: usize) -> Axis {
    let scale = 1.0 / (dst_len as f64 / src_len as f64);
    let mut a = Axis {
        index: Vec::with_capacity(dst_len),
        weights: Vec::with_capacity(dst_len),
        min: 0,
        max: dst_len,
    };
    for d in 0..dst_len {
        let f = scale * (d as f64 + 0.5) - 0.5;
        let i = f.floor();
        if i >= 0.0 && src_len > 1 {
            let i = i as usize;
            if i < src_len - 1 {
                let w1 = ((f - i as f64) * 256.0).round_ties_even() as u32;
                a.index.push(i);
                a.weights.push([256 - w1, w1]);
            } else {
                a.index.push(src_len - 1);
                a.weights.push([256, 0]);
                a.max = a.max.min(d);
            }
        } else {
            a.index.push(0);
            a.weights.push([256, 0]);
            a.min = a.min.max(d + 1);
        }
    }
    a
}

/// `cv::resize(…, INTER_LINEAR_EXACT)` for 8-bit images (OpenCV's `resize_bitExact`): rows are
/// interpolated horizontally into 8.8 fixed point, then vertically into 16.16 and rounded.
fn resize_bilinear(src: &GrayImage<'_>, dw: usize, dh: usize, out: &mut [u8]) {
    let sh = src.height() as usize;
    let xa = axis(src.width() as usize, dw);
    let ya = axis(sh, dh);
    let last_x = xa.index[dw - 1];
    let hresize = |y: usize, row: &mut [u32]| {
        let s = src.row(y);
        let first = u32::from(s[0]) << 8;
        let last = u32::from(s[last_x]) << 8;
        let (lo, hi) = (xa.min.min(dw), xa.max.clamp(xa.min.min(dw), dw));
        row[..lo].fill(first);
        row[hi..].fill(last);
        let mid = row[lo..hi]
            .iter_mut()
            .zip(&xa.index[lo..hi])
            .zip(&xa.weights[lo..hi]);
        for ((d, &i), &[w0, w1]) in mid {
            // index < src_len - 1 inside [min, max), so i + 1 is in the row.
            *d = w0 * u32::from(s[i]) + w1 * u32::from(s[i + 1]);
        }
    };
    let mut rows = [vec![0u32; dw], vec![0u32; dw]];
    let mut have = [usize::MAX, usize::MAX];
    let load = |rows: &mut [Vec<u32>; 2], have: &mut [usize; 2], slot: usize, y: usize| {
        if have[slot] == y {
            return;
        }
        let other = 1 - slot;
        if have[other] == y {
            rows.swap(0, 1);
            have.swap(0, 1);
            if have[slot] == y {
                return;
            }
        }
        hresize(y, &mut rows[slot]);
        have[slot] = y;
    };
    for dy in 0..dh {
        let dst = &mut out[dy * dw..(dy + 1) * dw];
        if dy < ya.min || dy >= ya.max {
            let y = if dy < ya.min { 0 } else { ya.index[dh - 1] };
            load(&mut rows, &mut have, 0, y);
            for (d, &v) in dst.iter_mut().zip(&rows[0]) {
                *d = ((v + 128) >> 8).min(255) as u8;
            }
            continue;
        }
        let y0 = ya.index[dy];
        load(&mut rows, &mut have, 0, y0);
        load(&mut rows, &mut have, 1, (y0 + 1).min(sh - 1));
        let [b0, b1] = ya.weights[dy];
        for ((d, &s0), &s1) in dst.iter_mut().zip(&rows[0]).zip(&rows[1]) {
            let v = s0 * b0 + s1 * b1;
            *d = ((v + (1 << 15)) >> 16).min(255) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_tilted(img: &[u8], w: usize, h: usize, xx: usize, yy: usize) -> i32 {
        let mut t = 0i32;
        for y in 0..yy {
            for x in 0..w {
                if (x as i64 - xx as i64 + 1).abs() < yy as i64 - y as i64 {
                    t += i32::from(img[y * w + x]);
                }
            }
        }
        let _ = h;
        t
    }

    fn levels_for(w: usize, h: usize) -> Vec<Level> {
        vec![Level {
            scale: 1.0,
            width: w,
            height: h,
            step: 2,
            offset: 0,
        }]
    }

    #[test]
    fn integrals_match_their_definitions() {
        let (w, h) = (7usize, 5usize);
        let img: Vec<u8> = (0..w * h).map(|i| (i * 37 % 251) as u8).collect();
        let g = GrayImage::packed(&img, w as u32, h as u32).unwrap();
        let mut levels = levels_for(w, h);
        let p = build(&g, &mut levels, true);
        for yy in 0..=h {
            for xx in 0..=w {
                let mut s = 0i32;
                let mut q = 0u32;
                for y in 0..yy {
                    for x in 0..xx {
                        let v = img[y * w + x];
                        s += i32::from(v);
                        q += u32::from(v) * u32::from(v);
                    }
                }
                let i = yy * p.stride + xx;
                assert_eq!(p.sum[i], s, "sum at {xx},{yy}");
                assert_eq!(p.sqsum[i], q, "sqsum at {xx},{yy}");
                assert_eq!(
                    p.tilted[i],
                    brute_tilted(&img, w, h, xx, yy),
                    "tilted at {xx},{yy}"
                );
            }
        }
    }

    #[test]
    fn levels_are_packed_into_shelves_without_overlap() {
        let mut levels: Vec<Level> = [(100, 80), (90, 72), (40, 30), (30, 20), (20, 15)]
            .iter()
            .map(|&(w, h)| Level {
                scale: 1.0,
                width: w,
                height: h,
                step: 1,
                offset: 0,
            })
            .collect();
        let (stride, rows) = layout(&mut levels);
        // OpenCV: alignSize(100 + 31, 32).
        assert_eq!(stride, 160);
        // 101 columns fill shelf 0; 91 starts shelf 1 and 41 fits beside it; 31 opens shelf 2.
        assert_eq!(levels[0].offset, 0);
        assert_eq!(levels[1].offset, 81 * 160);
        assert_eq!(levels[2].offset, 81 * 160 + 91);
        assert_eq!(levels[3].offset, (81 + 73) * 160);
        assert_eq!(levels[4].offset, (81 + 73) * 160 + 31);
        assert_eq!(rows, 81 + 73 + 21);
    }

    #[test]
    fn packed_levels_do_not_disturb_each_other() {
        let (w, h) = (40usize, 30usize);
        let img: Vec<u8> = (0..w * h).map(|i| (i * 13 % 256) as u8).collect();
        let g = GrayImage::packed(&img, w as u32, h as u32).unwrap();
        let mut levels: Vec<Level> = [(40usize, 30usize), (20, 15), (13, 10)]
            .iter()
            .map(|&(w, h)| Level {
                scale: 1.0,
                width: w,
                height: h,
                step: 1,
                offset: 0,
            })
            .collect();
        let p = build(&g, &mut levels, false);
        for l in &levels {
            let r = resize_linear(&g, l.width, l.height);
            let total: i32 = r.data.iter().map(|&v| i32::from(v)).sum();
            assert_eq!(p.sum[l.offset + l.height * p.stride + l.width], total);
        }
    }

    #[test]
    fn exact_halving_averages_two_by_two_blocks_rounding_up() {
        let img = [0u8, 1, 2, 3, 10, 11, 12, 13];
        let g = GrayImage::packed(&img, 4, 2).unwrap();
        let r = resize_linear(&g, 2, 1);
        // (0+1+10+11+2)>>2 = 6, (2+3+12+13+2)>>2 = 8
        assert_eq!(r.data, vec![6, 8]);
    }

    #[test]
    fn same_size_resize_is_a_copy() {
        let img = [1u8, 2, 3, 4, 5, 6];
        let g = GrayImage::new(&img, 2, 2, 3).unwrap();
        assert_eq!(resize_linear(&g, 2, 2).data, vec![1, 2, 4, 5]);
    }

    #[test]
    fn bilinear_downscale_matches_opencv_on_a_ramp() {
        // cv2.resize(np.arange(10, dtype=np.uint8).reshape(1, 10) * 20, (7, 1),
        //            interpolation=cv2.INTER_LINEAR_EXACT) in OpenCV 4.14.
        let img: Vec<u8> = (0..10u8).map(|v| v * 20).collect();
        let g = GrayImage::packed(&img, 10, 1).unwrap();
        assert_eq!(resize_linear(&g, 7, 1).data, OPENCV_RAMP_7.to_vec());
    }

    const OPENCV_RAMP_7: [u8; 7] = [4, 33, 61, 90, 119, 147, 176];
}
