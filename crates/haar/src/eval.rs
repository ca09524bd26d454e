//! The inner loop: the per-window evaluation of a compiled [`Program`] (see `program`) with
//! OpenCV's exact arithmetic.
//!
//! Arithmetic follows OpenCV 4 (`cascadedetect.hpp`): rectangle sums are 32-bit integers, a Haar
//! feature is `w0 * s0 + w1 * s1 (+ w2 * s2)` in `f32`, multiplied by the window's `f32` variance
//! normalisation factor and compared with the node's `f32` threshold; stage sums accumulate the
//! `f32` leaves in `f64`. Rejection at stage 0 skips the next column, as OpenCV does.
//!
//! Two rewrites are used only where they are provably exact for the loaded cascade: integer
//! feature sums (`int_exact`) and reordered stage sums (`sums_reassociate`, SIMD path only).

#![expect(
    unsafe_code,
    reason = "unchecked integral-image reads in the per-window loop; bounds are checked once per row"
)]

use crate::cascade::{Rect, Size};
pub(crate) use crate::program::{
    HaarOpt, HaarStump, LbpOpt, LbpStump, Program, StageRange, TABLE_NODES, TreeNode, TreeRange,
};
use crate::pyramid::{Level, Planes};

/// Reads one integral cell without a bounds check.
///
/// # Safety
/// `i` must be below `buf.len()`.
#[inline(always)]
unsafe fn cell<T: Copy>(buf: &[T], i: usize) -> T {
    debug_assert!(i < buf.len());
    // SAFETY: guaranteed by the caller.
    unsafe { *buf.get_unchecked(i) }
}

/// `p[o0] - p[o1] - p[o2] + p[o3]` with wrapping 32-bit arithmetic.
///
/// # Safety
/// `base + o[k]` must be in bounds for every k.
#[inline(always)]
unsafe fn rect_sum(buf: &[i32], base: usize, o: &[u32; 4]) -> i32 {
    // SAFETY: guaranteed by the caller.
    unsafe {
        cell(buf, base + o[0] as usize)
            .wrapping_sub(cell(buf, base + o[1] as usize))
            .wrapping_sub(cell(buf, base + o[2] as usize))
            .wrapping_add(cell(buf, base + o[3] as usize))
    }
}

/// # Safety
/// See [`WindowScan::scan_row`]: every offset of `f` added to `base` is in bounds of the plane it
/// reads (`tilted` is non-empty when the feature is tilted).
#[inline(always)]
unsafe fn haar_value(f: &HaarOpt, sum: &[i32], tilted: &[i32], base: usize) -> f32 {
    let plane = if f.tilted { tilted } else { sum };
    // SAFETY: guaranteed by the caller.
    unsafe {
        let mut v = f.weight[0] * rect_sum(plane, base, &f.ofs[0]) as f32
            + f.weight[1] * rect_sum(plane, base, &f.ofs[1]) as f32;
        if f.weight[2] != 0.0 {
            v += f.weight[2] * rect_sum(plane, base, &f.ofs[2]) as f32;
        }
        v
    }
}

/// [`haar_value`] computed in integers, for features where [`int_exact`] holds (same result).
///
/// # Safety
/// As for [`haar_value`].
#[inline(always)]
unsafe fn haar_value_int(f: &HaarOpt, sum: &[i32], tilted: &[i32], base: usize) -> f32 {
    let plane = if f.tilted { tilted } else { sum };
    // SAFETY: guaranteed by the caller.
    unsafe {
        let mut v = f.iweight[0]
            .wrapping_mul(rect_sum(plane, base, &f.ofs[0]))
            .wrapping_add(f.iweight[1].wrapping_mul(rect_sum(plane, base, &f.ofs[1])));
        if f.iweight[2] != 0 {
            v = v.wrapping_add(f.iweight[2].wrapping_mul(rect_sum(plane, base, &f.ofs[2])));
        }
        v as f32
    }
}

/// Stage loop of a stump cascade.
///
/// # Safety
/// As for [`haar_value`], for every stump.
#[inline(always)]
unsafe fn run_haar_stumps<const INT: bool>(
    stages: &[StageRange],
    stumps: &[HaarStump],
    p: &Planes,
    base: usize,
    vnf: f32,
) -> Verdict {
    for (si, st) in stages.iter().enumerate() {
        let mut acc = 0f64;
        // SAFETY: stage ranges were built from the stump list itself; reads per the caller.
        unsafe {
            for s in stumps.get_unchecked(st.start..st.end) {
                let raw = if INT {
                    haar_value_int(&s.f, &p.sum, &p.tilted, base)
                } else {
                    haar_value(&s.f, &p.sum, &p.tilted, base)
                };
                acc += if raw * vnf < s.threshold {
                    s.left
                } else {
                    s.right
                };
            }
        }
        if acc < st.threshold {
            return -(si as i32);
        }
    }
    1
}

/// The 8-bit LBP code of a window.
///
/// # Safety
/// Every offset of `f` added to `base` is in bounds of `sum`.
#[inline(always)]
unsafe fn lbp_code(f: &LbpOpt, sum: &[i32], base: usize) -> usize {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let p = |k: usize| cell(sum, base + f.ofs[k] as usize);
        let o = |a: usize, b: usize, c: usize, d: usize| {
            p(a).wrapping_sub(p(b))
                .wrapping_sub(p(c))
                .wrapping_add(p(d))
        };
        let center = o(5, 6, 9, 10);
        (usize::from(o(0, 1, 4, 5) >= center) << 7)
            | (usize::from(o(1, 2, 5, 6) >= center) << 6)
            | (usize::from(o(2, 3, 6, 7) >= center) << 5)
            | (usize::from(o(6, 7, 10, 11) >= center) << 4)
            | (usize::from(o(10, 11, 14, 15) >= center) << 3)
            | (usize::from(o(9, 10, 13, 14) >= center) << 2)
            | (usize::from(o(8, 9, 12, 13) >= center) << 1)
            | usize::from(o(4, 5, 8, 9) >= center)
    }
}

#[inline(always)]
fn in_subset(subset: &[i32; 8], code: usize) -> bool {
    (subset[(code >> 5) & 7] & (1i32 << (code & 31))) != 0
}

/// Scans pyramid rows with a compiled program.
pub(crate) struct WindowScan<'a> {
    program: &'a Program,
    planes: &'a Planes,
    window: Size,
    reads_tilted: bool,
    /// Use the SIMD row path where the CPU allows (tests turn it off to compare both paths).
    pub(crate) simd: bool,
}

impl<'a> WindowScan<'a> {
    pub(crate) fn new(program: &'a Program, planes: &'a Planes, window: Size) -> Self {
        Self {
            program,
            planes,
            window,
            reads_tilted: program.reads_tilted(),
            simd: true,
        }
    }
}

impl Program {
    /// Whether some feature reads the tilted plane.
    pub(crate) fn reads_tilted(&self) -> bool {
        match self {
            Program::HaarStumps { stumps, .. } => stumps.iter().any(|s| s.f.tilted),
            Program::HaarTrees { features, .. } => features.iter().any(|f| f.tilted),
            _ => false,
        }
    }
}

/// Outcome of one window, OpenCV's convention: 1 = object, 0 = rejected by stage 0 (skip the
/// next column), negative = rejected later or flat window.
pub(crate) type Verdict = i32;

impl WindowScan<'_> {
    /// Evaluates every window of row `y` of `level` and appends accepted ones (in image
    /// coordinates) to `out`.
    pub(crate) fn scan_row(&self, level: &Level, y: usize, out: &mut Vec<Rect>) {
        let (ww, wh) = (self.window.width as usize, self.window.height as usize);
        let p = self.planes;
        // Windows at (x, y) with x + ww <= width and y + wh <= height read integral cells up to
        // (width, height) of this level: check once that they all lie inside the planes, which
        // makes the unchecked reads below sound (feature corners were validated to lie inside
        // the window when the cascade was loaded).
        if level.width < ww || y + wh > level.height {
            return;
        }
        let last = level.offset + level.height * p.stride + level.width;
        if last >= p.sum.len()
            || last >= p.sqsum.len()
            || (self.reads_tilted && last >= p.tilted.len())
        {
            return;
        }
        let columns = level.width - ww + 1;
        let row_base = level.offset + y * p.stride;
        let scale = level.scale;
        let win_w = (self.window.width as f32 * scale).round_ties_even() as i32;
        let win_h = (self.window.height as f32 * scale).round_ties_even() as i32;
        let step = level.step;
        let mut emit = |x: usize, verdict: Verdict| {
            if verdict > 0 {
                out.push(Rect::new(
                    (x as f32 * scale).round_ties_even() as i32,
                    (y as f32 * scale).round_ties_even() as i32,
                    win_w,
                    win_h,
                ));
            }
        };
        if self.simd
            && let Some(lanes) = crate::lanes::RowLanes::of(self.program, self.reads_tilted)
            && let mut rows = crate::lanes::RowState::new(columns)
            && lanes.precompute(p, row_base, &mut rows)
        {
            // Every column through all stages at once (SIMD), then OpenCV's column walk with
            // its skip rule over the verdicts.
            let mut x = 0;
            while x < columns {
                let verdict = match rows.state[x] {
                    crate::lanes::FLAT => -1,
                    crate::lanes::PASSED => 1,
                    rejected_at => -i32::from(rejected_at - 1),
                };
                emit(x, verdict);
                if verdict == 0 {
                    x += step;
                }
                x += step;
            }
            return;
        }
        let mut x = 0;
        while x < columns {
            // SAFETY: x < columns and the check above keep every read inside the planes.
            let verdict = unsafe { self.window_verdict(row_base + x) };
            emit(x, verdict);
            if verdict == 0 {
                x += step;
            }
            x += step;
        }
    }

    /// # Safety
    /// `base` is the top-left integral cell of a window lying entirely inside its level.
    #[inline(always)]
    unsafe fn window_verdict(&self, base: usize) -> Verdict {
        let p = self.planes;
        // SAFETY: forwarded from the caller.
        unsafe {
            match self.program {
                Program::HaarStumps {
                    stages,
                    stumps,
                    norm,
                    norm_area,
                    int_exact,
                    ..
                } => {
                    let Some(vnf) = variance_norm(p, base, norm, *norm_area) else {
                        return -1;
                    };
                    if *int_exact {
                        run_haar_stumps::<true>(stages, stumps, p, base, vnf)
                    } else {
                        run_haar_stumps::<false>(stages, stumps, p, base, vnf)
                    }
                }
                Program::HaarTrees {
                    stages,
                    trees,
                    nodes,
                    leaves,
                    features,
                    norm,
                    norm_area,
                    int_exact,
                    ..
                } => {
                    let Some(vnf) = variance_norm(p, base, norm, *norm_area) else {
                        return -1;
                    };
                    for (si, st) in stages.iter().enumerate() {
                        let mut acc = 0f64;
                        for t in &trees[st.start..st.end] {
                            let mut idx: i32 = 0;
                            loop {
                                let n = &nodes[t.first_node + idx as usize];
                                let f = &features[n.feature];
                                let raw = if *int_exact {
                                    haar_value_int(f, &p.sum, &p.tilted, base)
                                } else {
                                    haar_value(f, &p.sum, &p.tilted, base)
                                };
                                let v = raw * vnf;
                                idx = if v < n.threshold { n.left } else { n.right };
                                if idx <= 0 {
                                    break;
                                }
                            }
                            acc += f64::from(leaves[t.first_leaf + idx.unsigned_abs() as usize]);
                        }
                        if acc < st.threshold {
                            return -(si as i32);
                        }
                    }
                    1
                }
                Program::LbpStumps { stages, stumps, .. } => {
                    for (si, st) in stages.iter().enumerate() {
                        let mut acc = 0f64;
                        for s in stumps.get_unchecked(st.start..st.end) {
                            let code = lbp_code(&s.f, &p.sum, base);
                            acc += if in_subset(&s.subset, code) {
                                s.left
                            } else {
                                s.right
                            };
                        }
                        if acc < st.threshold {
                            return -(si as i32);
                        }
                    }
                    1
                }
                Program::LbpTrees {
                    stages,
                    trees,
                    nodes,
                    leaves,
                    subsets,
                    features,
                } => {
                    for (si, st) in stages.iter().enumerate() {
                        let mut acc = 0f64;
                        for t in &trees[st.start..st.end] {
                            let mut idx: i32 = 0;
                            loop {
                                let n = &nodes[t.first_node + idx as usize];
                                let code = lbp_code(&features[n.feature], &p.sum, base);
                                idx = if in_subset(&subsets[n.subset], code) {
                                    n.left
                                } else {
                                    n.right
                                };
                                if idx <= 0 {
                                    break;
                                }
                            }
                            acc += f64::from(leaves[t.first_leaf + idx.unsigned_abs() as usize]);
                        }
                        if acc < st.threshold {
                            return -(si as i32);
                        }
                    }
                    1
                }
            }
        }
    }
}

/// OpenCV's `HaarEvaluator::setWindow`: the `f32` factor `1 / sqrt(area * sqsum - sum^2)`, or
/// `None` when the window is too flat to evaluate (OpenCV's runAt returns -1).
///
/// # Safety
/// `base + norm[k]` is in bounds of both `sum` and `sqsum`.
#[inline(always)]
unsafe fn variance_norm(p: &Planes, base: usize, norm: &[u32; 4], area: f64) -> Option<f32> {
    let n = norm.map(|o| base + o as usize);
    // SAFETY: guaranteed by the caller.
    let (s, q) = unsafe {
        let s = rect_sum(&p.sum, base, norm);
        let q = cell(&p.sqsum, n[0])
            .wrapping_sub(cell(&p.sqsum, n[1]))
            .wrapping_sub(cell(&p.sqsum, n[2]))
            .wrapping_add(cell(&p.sqsum, n[3]));
        (s, q)
    };
    let nf = area * f64::from(q) - f64::from(s) * f64::from(s);
    if nf > 0.0 {
        let vnf = (1.0 / nf.sqrt()) as f32;
        (area * f64::from(vnf) < 0.1).then_some(vnf)
    } else {
        None
    }
}
