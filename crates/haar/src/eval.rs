//! The inner loop: cascades compiled to flat arrays of precomputed integral-image offsets, and the
//! per-window evaluation with OpenCV's exact arithmetic.
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

use crate::cascade::{Cascade, FeatureType, HaarFeature, LbpFeature, Rect, Size};
use crate::exact::{int_exact, sums_reassociate};
use crate::pyramid::{Level, Planes};

/// A Haar feature with offsets relative to the window's top-left integral cell.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HaarOpt {
    pub(crate) ofs: [[u32; 4]; 3],
    pub(crate) weight: [f32; 3],
    /// The weights as integers, valid when the program's `int_exact` is set.
    pub(crate) iweight: [i32; 3],
    pub(crate) tilted: bool,
}

/// A Haar stump: one feature, its threshold and two leaves, stored together for locality.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HaarStump {
    pub(crate) f: HaarOpt,
    pub(crate) threshold: f32,
    /// Leaves widened to f64 once (exact), as the stage sum adds them in f64.
    pub(crate) left: f64,
    pub(crate) right: f64,
    /// `left - right`, exact when the program's `reassociable` is set.
    pub(crate) diff: f64,
}

/// An LBP feature: the 16 corner offsets of its 3×3 block grid.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LbpOpt {
    pub(crate) ofs: [u32; 16],
}

/// An LBP stump with its 256-bit category subset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LbpStump {
    pub(crate) f: LbpOpt,
    pub(crate) subset: [i32; 8],
    /// Leaves widened to f64 once (exact).
    pub(crate) left: f64,
    pub(crate) right: f64,
    /// `left - right`, exact when the program's `reassociable` is set.
    pub(crate) diff: f64,
}

/// A general tree node (cascades whose trees have more than one node).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TreeNode {
    pub(crate) feature: usize,
    pub(crate) threshold: f32,
    pub(crate) left: i32,
    pub(crate) right: i32,
    /// Index of the node's 8-word subset in `subsets` (LBP only).
    pub(crate) subset: usize,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct StageRange {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) threshold: f64,
    /// Sum of the stage's right leaves (stump cascades; see `sums_reassociate`).
    pub(crate) base: f64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct TreeRange {
    pub(crate) first_node: usize,
    pub(crate) node_count: usize,
    pub(crate) first_leaf: usize,
}

/// A cascade compiled for one integral-image stride.
pub(crate) enum Program {
    HaarStumps {
        stages: Vec<StageRange>,
        stumps: Vec<HaarStump>,
        norm: [u32; 4],
        norm_area: f64,
        /// Every feature can be evaluated in integers with the same result (see `int_exact`).
        int_exact: bool,
        /// The largest corner offset read relative to a window's top-left cell.
        max_offset: u32,
        /// Stage sums are exact in any order (see `sums_reassociate`).
        reassociable: bool,
    },
    HaarTrees {
        stages: Vec<StageRange>,
        trees: Vec<TreeRange>,
        nodes: Vec<TreeNode>,
        leaves: Vec<f32>,
        features: Vec<HaarOpt>,
        /// Per tree, the leaf for each combination of node outcomes (bit k set = node k's
        /// feature is below its threshold), when every tree has at most `TABLE_NODES` nodes.
        tables: Option<Vec<[f64; 1 << TABLE_NODES]>>,
        /// The largest tree.
        max_nodes: usize,
        norm: [u32; 4],
        norm_area: f64,
        int_exact: bool,
        max_offset: u32,
    },
    LbpStumps {
        stages: Vec<StageRange>,
        stumps: Vec<LbpStump>,
        max_offset: u32,
        reassociable: bool,
    },
    LbpTrees {
        stages: Vec<StageRange>,
        trees: Vec<TreeRange>,
        nodes: Vec<TreeNode>,
        leaves: Vec<f32>,
        subsets: Vec<[i32; 8]>,
        features: Vec<LbpOpt>,
    },
}

/// Trees up to this many nodes get a leaf lookup table for the SIMD path.
pub(crate) const TABLE_NODES: usize = 4;

/// The leaf a tree reaches for every combination of node outcomes (bit k = node k's test is
/// true), or `None` if the tree is too large. Combinations that cannot occur are filled too;
/// they are never looked up with different results than the walk would give.
fn leaf_table(nodes: &[TreeNode], leaves: &[f32]) -> Option<[f64; 1 << TABLE_NODES]> {
    if nodes.len() > TABLE_NODES {
        return None;
    }
    let mut table = [0f64; 1 << TABLE_NODES];
    for (bits, slot) in table.iter_mut().enumerate() {
        let mut idx: i32 = 0;
        loop {
            let n = &nodes[idx as usize];
            idx = if bits & (1 << idx) != 0 {
                n.left
            } else {
                n.right
            };
            if idx <= 0 {
                break;
            }
        }
        *slot = f64::from(leaves[idx.unsigned_abs() as usize]);
    }
    Some(table)
}

/// Offsets of the corners (x, y), (x + w, y), (x, y + h), (x + w, y + h).
fn upright(x: i32, y: i32, w: i32, h: i32, stride: usize) -> [u32; 4] {
    // Validated at load time: every corner lies inside the window (at most 4096 × 4096), so all
    // offsets are non-negative and below stride × 4097, which fits in u32.
    let at = |cx: i32, cy: i32| (cy as usize * stride + cx as usize) as u32;
    [at(x, y), at(x + w, y), at(x, y + h), at(x + w, y + h)]
}

/// Offsets of the tilted corners (x, y), (x - h, y + h), (x + w, y + w), (x + w - h, y + w + h).
fn tilted(x: i32, y: i32, w: i32, h: i32, stride: usize) -> [u32; 4] {
    let at = |cx: i32, cy: i32| (cy as usize * stride + cx as usize) as u32;
    [
        at(x, y),
        at(x - h, y + h),
        at(x + w, y + w),
        at(x + w - h, y + w + h),
    ]
}

fn haar_opt(f: &HaarFeature, stride: usize) -> HaarOpt {
    let mut ofs = [[0u32; 4]; 3];
    let mut weight = [0f32; 3];
    let mut iweight = [0i32; 3];
    for (k, r) in f.rects.iter().enumerate() {
        ofs[k] = if f.tilted {
            tilted(r.x, r.y, r.width, r.height, stride)
        } else {
            upright(r.x, r.y, r.width, r.height, stride)
        };
        weight[k] = r.weight;
        iweight[k] = r.weight as i32;
    }
    HaarOpt {
        ofs,
        weight,
        iweight,
        tilted: f.tilted,
    }
}

fn lbp_opt(f: &LbpFeature, stride: usize) -> LbpOpt {
    let mut ofs = [0u32; 16];
    let (w, h) = (f.width, f.height);
    // The 4×4 grid of block corners, row-major: corner (i, j) at (x + i w, y + j h).
    for j in 0..4 {
        for i in 0..4 {
            ofs[j * 4 + i] =
                ((f.y + j as i32 * h) as usize * stride + (f.x + i as i32 * w) as usize) as u32;
        }
    }
    LbpOpt { ofs }
}

fn subset8(c: &Cascade, node: usize) -> [i32; 8] {
    let mut s = [0i32; 8];
    let start = node * c.subset_words;
    s.copy_from_slice(&c.subsets[start..start + 8]);
    s
}

impl Program {
    pub(crate) fn compile(c: &Cascade, stride: usize) -> Self {
        let stages: Vec<StageRange> = c
            .stages
            .iter()
            .map(|s| StageRange {
                start: s.first_tree,
                end: s.first_tree + s.ntrees,
                threshold: f64::from(s.threshold),
                base: if c.max_nodes_per_tree == 1 {
                    c.trees[s.first_tree..s.first_tree + s.ntrees]
                        .iter()
                        .map(|t| f64::from(c.leaves[t.first_leaf + 1]))
                        .sum()
                } else {
                    0.0
                },
            })
            .collect();
        let (ww, wh) = (c.window.width as i32, c.window.height as i32);
        let norm = upright(1, 1, ww - 2, wh - 2, stride);
        let norm_area = f64::from((ww - 2) * (wh - 2));
        let trees: Vec<TreeRange> = c
            .trees
            .iter()
            .map(|t| TreeRange {
                first_node: t.first_node,
                node_count: t.node_count,
                first_leaf: t.first_leaf,
            })
            .collect();
        let nodes = |with_subsets: bool| -> Vec<TreeNode> {
            c.nodes
                .iter()
                .enumerate()
                .map(|(i, n)| TreeNode {
                    feature: n.feature,
                    threshold: n.threshold,
                    left: n.left,
                    right: n.right,
                    subset: if with_subsets { i } else { 0 },
                })
                .collect()
        };
        match (c.feature_type, c.max_nodes_per_tree == 1) {
            (FeatureType::Haar, true) => {
                // A stump uses its first two leaves whatever its child indices say (OpenCV).
                let stumps: Vec<HaarStump> = c
                    .trees
                    .iter()
                    .map(|t| {
                        let n = &c.nodes[t.first_node];
                        HaarStump {
                            f: haar_opt(&c.haar_features[n.feature], stride),
                            threshold: n.threshold,
                            left: f64::from(c.leaves[t.first_leaf]),
                            right: f64::from(c.leaves[t.first_leaf + 1]),
                            diff: f64::from(c.leaves[t.first_leaf])
                                - f64::from(c.leaves[t.first_leaf + 1]),
                        }
                    })
                    .collect();
                let max_offset = stumps
                    .iter()
                    .flat_map(|s: &HaarStump| s.f.ofs.iter().flatten().copied())
                    .chain(norm.iter().copied())
                    .max()
                    .unwrap_or(0);
                Program::HaarStumps {
                    stages,
                    stumps,
                    norm,
                    norm_area,
                    int_exact: c.haar_features.iter().all(int_exact),
                    max_offset,
                    reassociable: sums_reassociate(c),
                }
            }
            (FeatureType::Haar, false) => {
                let features: Vec<HaarOpt> = c
                    .haar_features
                    .iter()
                    .map(|f| haar_opt(f, stride))
                    .collect();
                let max_offset = features
                    .iter()
                    .flat_map(|f| f.ofs.iter().flatten().copied())
                    .chain(norm.iter().copied())
                    .max()
                    .unwrap_or(0);
                let nodes = nodes(false);
                let tables = trees
                    .iter()
                    .map(|t| {
                        leaf_table(
                            &nodes[t.first_node..t.first_node + t.node_count],
                            &c.leaves[t.first_leaf..t.first_leaf + t.node_count + 1],
                        )
                    })
                    .collect();
                Program::HaarTrees {
                    stages,
                    trees,
                    nodes,
                    leaves: c.leaves.clone(),
                    features,
                    tables,
                    max_nodes: c.max_nodes_per_tree,
                    norm,
                    norm_area,
                    int_exact: c.haar_features.iter().all(int_exact),
                    max_offset,
                }
            }
            (FeatureType::Lbp, true) => {
                let stumps: Vec<LbpStump> = c
                    .trees
                    .iter()
                    .map(|t| {
                        let n = &c.nodes[t.first_node];
                        let (left, right) = (
                            f64::from(c.leaves[t.first_leaf]),
                            f64::from(c.leaves[t.first_leaf + 1]),
                        );
                        LbpStump {
                            f: lbp_opt(&c.lbp_features[n.feature], stride),
                            subset: subset8(c, t.first_node),
                            left,
                            right,
                            diff: left - right,
                        }
                    })
                    .collect();
                let max_offset = stumps
                    .iter()
                    .flat_map(|s: &LbpStump| s.f.ofs)
                    .max()
                    .unwrap_or(0);
                Program::LbpStumps {
                    stages,
                    stumps,
                    max_offset,
                    reassociable: sums_reassociate(c),
                }
            }
            (FeatureType::Lbp, false) => Program::LbpTrees {
                stages,
                trees,
                nodes: nodes(true),
                leaves: c.leaves.clone(),
                subsets: (0..c.nodes.len()).map(|i| subset8(c, i)).collect(),
                features: c.lbp_features.iter().map(|f| lbp_opt(f, stride)).collect(),
            },
        }
    }
}

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
