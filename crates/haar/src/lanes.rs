//! Haar (stumps and small trees) and LBP (stumps) cascades for a whole row of windows at once.
//!
//! Windows of a row are evaluated [`LANES`] neighbouring columns at a time with AVX2 when the
//! CPU has it, through all stages until every window of the block is rejected. Every lane performs
//! exactly the scalar operations of `eval` in the same order (no fused multiply-add, IEEE
//! division and square root), so results are bit-identical to the one-window path. Columns that
//! OpenCV would skip are computed too and simply not used.

#![cfg_attr(
    target_arch = "x86_64",
    expect(
        unsafe_code,
        reason = "AVX2 intrinsics; every load is bounds-checked once per row"
    )
)]

use crate::eval::{
    HaarOpt, HaarStump, LbpStump, Program, StageRange, TABLE_NODES, TreeNode, TreeRange,
};
use crate::pyramid::Planes;

/// Columns evaluated together.
pub(crate) const LANES: usize = 8;

/// Row state: the window is too flat to evaluate (OpenCV's verdict -1).
pub(crate) const FLAT: u8 = 0;
/// Row state: the window passed the column-parallel stages. Values in between are
/// `1 + stage` of the rejecting stage.
pub(crate) const PASSED: u8 = u8::MAX;

/// The largest tree the lane path evaluates (OpenCV's cascades have at most a few nodes).
pub(crate) const MAX_TREE_NODES: usize = 16;

/// Per-row results of [`RowLanes::precompute`].
pub(crate) struct RowState {
    /// [`FLAT`], [`PASSED`] or `1 + rejecting stage` (capped at 254), per column.
    pub state: Vec<u8>,
}

impl RowState {
    pub(crate) fn new(columns: usize) -> Self {
        Self {
            state: vec![FLAT; columns.div_ceil(LANES) * LANES],
        }
    }
}

/// The weak classifiers of a program.
pub(crate) enum Weak<'a> {
    /// LBP stumps: the 8-bit code of each window is looked up in the stump's 256-bit subset.
    Lbp {
        stumps: &'a [LbpStump],
        /// As for `Stumps`.
        reassociable: bool,
    },
    /// One node per tree.
    Stumps {
        stumps: &'a [HaarStump],
        /// Stage sums may be computed as `base + Σ diff·[test]` in two interleaved accumulators.
        reassociable: bool,
    },
    /// Small trees (at most [`MAX_TREE_NODES`] nodes): every node's feature is computed for all
    /// lanes, then each lane walks its tree.
    Trees {
        trees: &'a [TreeRange],
        nodes: &'a [TreeNode],
        leaves: &'a [f32],
        features: &'a [HaarOpt],
        /// Leaf lookup tables, one per tree, when every tree is small enough.
        tables: Option<&'a [[f64; 1 << TABLE_NODES]]>,
    },
}

/// A program's parts needed for the column-parallel evaluation (Haar or LBP).
pub(crate) struct RowLanes<'a> {
    pub stages: &'a [StageRange],
    pub weak: Weak<'a>,
    /// The variance normalisation rectangle (Haar); `None` for LBP, which has none.
    pub norm: Option<&'a [u32; 4]>,
    pub norm_area: f64,
    pub int_exact: bool,
    /// The largest corner offset of any feature or of the normalisation rectangle.
    pub max_offset: u32,
    pub reads_tilted: bool,
}

impl<'a> RowLanes<'a> {
    /// The column-parallel view of a program, if it has one.
    pub(crate) fn of(program: &'a Program, reads_tilted: bool) -> Option<Self> {
        match program {
            Program::HaarStumps {
                stages,
                stumps,
                norm,
                norm_area,
                int_exact,
                max_offset,
                reassociable,
            } => Some(Self {
                stages,
                weak: Weak::Stumps {
                    stumps,
                    reassociable: *reassociable,
                },
                norm: Some(norm),
                norm_area: *norm_area,
                int_exact: *int_exact,
                max_offset: *max_offset,
                reads_tilted,
            }),
            Program::HaarTrees {
                stages,
                trees,
                nodes,
                leaves,
                features,
                tables,
                max_nodes,
                norm,
                norm_area,
                int_exact,
                max_offset,
            } if *max_nodes <= MAX_TREE_NODES => Some(Self {
                stages,
                weak: Weak::Trees {
                    trees,
                    nodes,
                    leaves,
                    features,
                    tables: tables.as_deref(),
                },
                norm: Some(norm),
                norm_area: *norm_area,
                int_exact: *int_exact,
                max_offset: *max_offset,
                reads_tilted,
            }),
            Program::LbpStumps {
                stages,
                stumps,
                max_offset,
                reassociable,
            } => Some(Self {
                stages,
                weak: Weak::Lbp {
                    stumps,
                    reassociable: *reassociable,
                },
                norm: None,
                norm_area: 0.0,
                int_exact: false,
                max_offset: *max_offset,
                reads_tilted: false,
            }),
            Program::HaarTrees { .. } | Program::LbpTrees { .. } => None,
        }
    }

    /// Fills `rows` for the windows whose top-left integral cell is `row_base + x`, through all
    /// stages. Returns false when this CPU has no AVX2 or a read would leave the planes (the
    /// caller then evaluates window by window).
    pub(crate) fn precompute(&self, p: &Planes, row_base: usize, rows: &mut RowState) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { avx2::precompute(self, p, row_base, rows) };
            }
        }
        let _ = (p, row_base, rows);
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The AVX2 implementation: 8 windows per vector, f64 work in two halves of 4.

    use std::arch::x86_64::*;

    use super::{FLAT, LANES, PASSED, RowLanes, RowState, Weak};
    use crate::eval::HaarOpt;
    use crate::pyramid::Planes;

    /// Loads 8 consecutive 32-bit cells at `i`.
    ///
    /// # Safety
    /// `T` is 4 bytes wide and `i + 8 <= plane.len()`.
    #[inline(always)]
    unsafe fn load<T: Copy>(plane: &[T], i: usize) -> __m256i {
        debug_assert!(i + LANES <= plane.len());
        // SAFETY: guaranteed by the caller; unaligned load.
        unsafe { _mm256_loadu_si256(plane.as_ptr().add(i).cast()) }
    }

    /// `p0 - p1 - p2 + p3` for 8 windows, wrapping.
    ///
    /// # Safety
    /// `at + o[k] + 8 <= plane.len()` for every k.
    #[inline(always)]
    unsafe fn rect<T: Copy>(plane: &[T], at: usize, o: &[u32; 4]) -> __m256i {
        // SAFETY: guaranteed by the caller.
        unsafe {
            let a = load(plane, at + o[0] as usize);
            let b = load(plane, at + o[1] as usize);
            let c = load(plane, at + o[2] as usize);
            let d = load(plane, at + o[3] as usize);
            _mm256_add_epi32(_mm256_sub_epi32(_mm256_sub_epi32(a, b), c), d)
        }
    }

    /// Unsigned 32-bit lanes (4 of them) to f64, exactly.
    #[inline(always)]
    unsafe fn u32_to_f64(v: __m128i) -> __m256d {
        // SAFETY: register-only intrinsics, AVX2 enabled by the caller.
        unsafe {
            let flipped = _mm_xor_si128(v, _mm_set1_epi32(i32::MIN));
            _mm256_add_pd(_mm256_cvtepi32_pd(flipped), _mm256_set1_pd(2147483648.0))
        }
    }

    /// The low or high 4 lanes of a 32-bit vector.
    #[inline(always)]
    unsafe fn half(v: __m256i, high: bool) -> __m128i {
        // SAFETY: register-only intrinsics, AVX2 enabled by the caller.
        unsafe {
            if high {
                _mm256_extracti128_si256::<1>(v)
            } else {
                _mm256_castsi256_si128(v)
            }
        }
    }

    /// The raw feature value (before normalisation) of 8 windows, as `eval::haar_value` or
    /// `eval::haar_value_int`.
    ///
    /// # Safety
    /// Every corner read lies within the plane (see `precompute`).
    #[inline(always)]
    unsafe fn feature(f: &HaarOpt, int_exact: bool, p: &Planes, at: usize) -> __m256 {
        let plane: &[i32] = if f.tilted { &p.tilted } else { &p.sum };
        // SAFETY: guaranteed by the caller.
        unsafe {
            let r0 = rect(plane, at, &f.ofs[0]);
            let r1 = rect(plane, at, &f.ofs[1]);
            if int_exact {
                let mut iv = _mm256_add_epi32(
                    _mm256_mullo_epi32(_mm256_set1_epi32(f.iweight[0]), r0),
                    _mm256_mullo_epi32(_mm256_set1_epi32(f.iweight[1]), r1),
                );
                if f.iweight[2] != 0 {
                    let r2 = rect(plane, at, &f.ofs[2]);
                    iv = _mm256_add_epi32(
                        iv,
                        _mm256_mullo_epi32(_mm256_set1_epi32(f.iweight[2]), r2),
                    );
                }
                _mm256_cvtepi32_ps(iv)
            } else {
                let mut fv = _mm256_add_ps(
                    _mm256_mul_ps(_mm256_set1_ps(f.weight[0]), _mm256_cvtepi32_ps(r0)),
                    _mm256_mul_ps(_mm256_set1_ps(f.weight[1]), _mm256_cvtepi32_ps(r1)),
                );
                if f.weight[2] != 0.0 {
                    let r2 = rect(plane, at, &f.ofs[2]);
                    fv = _mm256_add_ps(
                        fv,
                        _mm256_mul_ps(_mm256_set1_ps(f.weight[2]), _mm256_cvtepi32_ps(r2)),
                    );
                }
                fv
            }
        }
    }

    /// Lane mask of `feature * vnf < threshold` (f32 compare, false for NaN as in scalar code).
    #[inline(always)]
    unsafe fn below(v: __m256, vnf: __m256, threshold: f32) -> __m256i {
        // SAFETY: register-only intrinsics, AVX2 enabled by the caller.
        unsafe {
            _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(
                _mm256_mul_ps(v, vnf),
                _mm256_set1_ps(threshold),
            ))
        }
    }

    /// Lane mask of "the window's LBP code is in the stump's subset", as `eval::lbp_code` and
    /// `eval::in_subset`.
    ///
    /// # Safety
    /// Every corner read lies within the plane (see `precompute`).
    #[inline(always)]
    unsafe fn lbp_in_subset(sp: &crate::eval::LbpStump, p: &Planes, at: usize) -> __m256i {
        // SAFETY: guaranteed by the caller.
        unsafe {
            let mut c = [_mm256_setzero_si256(); 16];
            for (k, ck) in c.iter_mut().enumerate() {
                *ck = load(&p.sum, at + sp.f.ofs[k] as usize);
            }
            let o = |a: usize, b: usize, cc: usize, d: usize| {
                _mm256_add_epi32(_mm256_sub_epi32(_mm256_sub_epi32(c[a], c[b]), c[cc]), c[d])
            };
            let center = o(5, 6, 9, 10);
            let mut code = _mm256_setzero_si256();
            for (bit, (a, b, cc, d)) in [
                (128, (0, 1, 4, 5)),
                (64, (1, 2, 5, 6)),
                (32, (2, 3, 6, 7)),
                (16, (6, 7, 10, 11)),
                (8, (10, 11, 14, 15)),
                (4, (9, 10, 13, 14)),
                (2, (8, 9, 12, 13)),
                (1, (4, 5, 8, 9)),
            ] {
                // block >= center  <=>  !(center > block)
                let below = _mm256_cmpgt_epi32(center, o(a, b, cc, d));
                code = _mm256_or_si256(code, _mm256_andnot_si256(below, _mm256_set1_epi32(bit)));
            }
            let subset = _mm256_loadu_si256(sp.subset.as_ptr().cast());
            let word = _mm256_permutevar8x32_epi32(subset, _mm256_srli_epi32::<5>(code));
            let bit = _mm256_sllv_epi32(
                _mm256_set1_epi32(1),
                _mm256_and_si256(code, _mm256_set1_epi32(31)),
            );
            let zero = _mm256_cmpeq_epi32(_mm256_and_si256(word, bit), _mm256_setzero_si256());
            _mm256_xor_si256(zero, _mm256_set1_epi32(-1))
        }
    }

    /// Returns false (leaving `rows` untouched) if some read would leave the planes.
    ///
    /// # Safety
    /// The CPU supports AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn precompute(
        h: &RowLanes<'_>,
        p: &Planes,
        row_base: usize,
        rows: &mut RowState,
    ) -> bool {
        let blocks = rows.state.len() / LANES;
        // Every read is at row_base + x + offset + lane with offset <= max_offset.
        let end = row_base + blocks * LANES + h.max_offset as usize;
        if end > p.sum.len() || end > p.sqsum.len() || (h.reads_tilted && end > p.tilted.len()) {
            return false;
        }
        let area = _mm256_set1_pd(h.norm_area);
        let one = _mm256_set1_pd(1.0);
        let zero = _mm256_setzero_pd();
        let tenth = _mm256_set1_pd(0.1);
        for b in 0..blocks {
            let at = row_base + b * LANES;
            // SAFETY: `end` above bounds every read of this block.
            unsafe {
                // Variance normalisation, as `eval::variance_norm`, in two halves of 4.
                let norm = h.norm.unwrap_or(&[0; 4]);
                let s = rect(&p.sum, at, norm);
                let q = rect(&p.sqsum, at, norm);
                let mut vnf_h = [_mm_setzero_ps(); 2];
                let all = _mm256_castsi256_pd(_mm256_set1_epi32(-1));
                let mut ok = [all, all];
                for (k, high) in [false, true].into_iter().enumerate() {
                    if h.norm.is_none() {
                        break;
                    }
                    let sd = _mm256_cvtepi32_pd(half(s, high));
                    let nf = _mm256_sub_pd(
                        _mm256_mul_pd(area, u32_to_f64(half(q, high))),
                        _mm256_mul_pd(sd, sd),
                    );
                    let f = _mm256_cvtpd_ps(_mm256_div_pd(one, _mm256_sqrt_pd(nf)));
                    vnf_h[k] = f;
                    ok[k] = _mm256_and_pd(
                        _mm256_cmp_pd::<_CMP_GT_OQ>(nf, zero),
                        _mm256_cmp_pd::<_CMP_LT_OQ>(_mm256_mul_pd(area, _mm256_cvtps_pd(f)), tenth),
                    );
                }
                let vnf = _mm256_set_m128(vnf_h[1], vnf_h[0]);
                let mut alive = [_mm256_castpd_si256(ok[0]), _mm256_castpd_si256(ok[1])];
                let mut state = [FLAT; LANES];
                let ok_bits = _mm256_movemask_pd(ok[0]) | (_mm256_movemask_pd(ok[1]) << 4);
                for (l, st) in state.iter_mut().enumerate() {
                    if ok_bits & (1 << l) != 0 {
                        *st = PASSED;
                    }
                }
                for (si, st) in h.stages.iter().enumerate() {
                    if _mm256_testz_si256(alive[0], alive[0]) != 0
                        && _mm256_testz_si256(alive[1], alive[1]) != 0
                    {
                        break;
                    }
                    let mut acc = [_mm256_setzero_pd(); 2];
                    match &h.weak {
                        Weak::Lbp {
                            stumps,
                            reassociable,
                        } => {
                            let (mut lo0, mut hi0) = if *reassociable {
                                (_mm256_set1_pd(st.base), _mm256_set1_pd(st.base))
                            } else {
                                (_mm256_setzero_pd(), _mm256_setzero_pd())
                            };
                            for sp in &stumps[st.start..st.end] {
                                let inside = lbp_in_subset(sp, p, at);
                                for (k, high) in [false, true].into_iter().enumerate() {
                                    let m = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(half(
                                        inside, high,
                                    )));
                                    let term = if *reassociable {
                                        _mm256_and_pd(m, _mm256_set1_pd(sp.diff))
                                    } else {
                                        _mm256_blendv_pd(
                                            _mm256_set1_pd(sp.right),
                                            _mm256_set1_pd(sp.left),
                                            m,
                                        )
                                    };
                                    if k == 0 {
                                        lo0 = _mm256_add_pd(lo0, term);
                                    } else {
                                        hi0 = _mm256_add_pd(hi0, term);
                                    }
                                }
                            }
                            acc = [lo0, hi0];
                        }
                        Weak::Stumps {
                            stumps,
                            reassociable: true,
                        } => {
                            // Exact in any order (see `eval::sums_reassociate`): start from the
                            // sum of right leaves, add `left - right` where the test holds, in
                            // two independent chains per half.
                            let term = |sp: &crate::eval::HaarStump| {
                                let lt =
                                    below(feature(&sp.f, h.int_exact, p, at), vnf, sp.threshold);
                                let diff = _mm256_set1_pd(sp.diff);
                                let lo =
                                    _mm256_castsi256_pd(_mm256_cvtepi32_epi64(half(lt, false)));
                                let hi = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(half(lt, true)));
                                (_mm256_and_pd(lo, diff), _mm256_and_pd(hi, diff))
                            };
                            let (mut lo0, mut hi0) =
                                (_mm256_set1_pd(st.base), _mm256_set1_pd(st.base));
                            let (mut lo1, mut hi1) = (_mm256_setzero_pd(), _mm256_setzero_pd());
                            let stage_stumps = &stumps[st.start..st.end];
                            let mut pairs = stage_stumps.chunks_exact(2);
                            for pair in &mut pairs {
                                let (l0, h0) = term(&pair[0]);
                                let (l1, h1) = term(&pair[1]);
                                lo0 = _mm256_add_pd(lo0, l0);
                                hi0 = _mm256_add_pd(hi0, h0);
                                lo1 = _mm256_add_pd(lo1, l1);
                                hi1 = _mm256_add_pd(hi1, h1);
                            }
                            if let [last] = pairs.remainder() {
                                let (l0, h0) = term(last);
                                lo0 = _mm256_add_pd(lo0, l0);
                                hi0 = _mm256_add_pd(hi0, h0);
                            }
                            acc[0] = _mm256_add_pd(lo0, lo1);
                            acc[1] = _mm256_add_pd(hi0, hi1);
                        }
                        Weak::Stumps { stumps, .. } => {
                            for sp in &stumps[st.start..st.end] {
                                let lt =
                                    below(feature(&sp.f, h.int_exact, p, at), vnf, sp.threshold);
                                let left = _mm256_set1_pd(sp.left);
                                let right = _mm256_set1_pd(sp.right);
                                for (k, high) in [false, true].into_iter().enumerate() {
                                    let m =
                                        _mm256_castsi256_pd(_mm256_cvtepi32_epi64(half(lt, high)));
                                    acc[k] =
                                        _mm256_add_pd(acc[k], _mm256_blendv_pd(right, left, m));
                                }
                            }
                        }
                        Weak::Trees {
                            trees,
                            nodes,
                            features,
                            tables: Some(tables),
                            ..
                        } => {
                            for (ti, t) in trees[st.start..st.end].iter().enumerate() {
                                let tree_nodes = &nodes[t.first_node..t.first_node + t.node_count];
                                // Bit k of a lane: node k's test holds for that window.
                                let mut bits = _mm256_setzero_si256();
                                for (k, n) in tree_nodes.iter().enumerate() {
                                    let lt = below(
                                        feature(&features[n.feature], h.int_exact, p, at),
                                        vnf,
                                        n.threshold,
                                    );
                                    bits = _mm256_or_si256(
                                        bits,
                                        _mm256_and_si256(lt, _mm256_set1_epi32(1 << k)),
                                    );
                                }
                                let table = &tables[st.start + ti];
                                for (k, high) in [false, true].into_iter().enumerate() {
                                    // Indices are below 2^TABLE_NODES, the table's length.
                                    let leaf =
                                        _mm256_i32gather_pd::<8>(table.as_ptr(), half(bits, high));
                                    acc[k] = _mm256_add_pd(acc[k], leaf);
                                }
                            }
                        }
                        Weak::Trees {
                            trees,
                            nodes,
                            leaves,
                            features,
                            tables: None,
                        } => {
                            let mut masks = [0i32; super::MAX_TREE_NODES];
                            for t in &trees[st.start..st.end] {
                                let tree_nodes = &nodes[t.first_node..t.first_node + t.node_count];
                                // Every node for every lane (trees have a handful of nodes).
                                for (k, n) in tree_nodes.iter().enumerate().take(masks.len()) {
                                    let lt = below(
                                        feature(&features[n.feature], h.int_exact, p, at),
                                        vnf,
                                        n.threshold,
                                    );
                                    masks[k] = _mm256_movemask_ps(_mm256_castsi256_ps(lt));
                                }
                                let mut picked = [0f64; LANES];
                                for (l, out) in picked.iter_mut().enumerate() {
                                    let mut idx: i32 = 0;
                                    loop {
                                        let n = &tree_nodes[idx as usize];
                                        idx = if masks[idx as usize] & (1 << l) != 0 {
                                            n.left
                                        } else {
                                            n.right
                                        };
                                        if idx <= 0 {
                                            break;
                                        }
                                    }
                                    *out = f64::from(
                                        leaves[t.first_leaf + idx.unsigned_abs() as usize],
                                    );
                                }
                                acc[0] = _mm256_add_pd(acc[0], _mm256_loadu_pd(picked.as_ptr()));
                                acc[1] =
                                    _mm256_add_pd(acc[1], _mm256_loadu_pd(picked.as_ptr().add(4)));
                            }
                        }
                    }
                    let thr = _mm256_set1_pd(st.threshold);
                    let mut rejected_bits = 0;
                    for k in 0..2 {
                        let rej = _mm256_and_pd(
                            _mm256_castsi256_pd(alive[k]),
                            _mm256_cmp_pd::<_CMP_LT_OQ>(acc[k], thr),
                        );
                        rejected_bits |= _mm256_movemask_pd(rej) << (4 * k);
                        alive[k] = _mm256_andnot_si256(_mm256_castpd_si256(rej), alive[k]);
                    }
                    for (l, stl) in state.iter_mut().enumerate() {
                        if rejected_bits & (1 << l) != 0 {
                            *stl = 1 + si.min(usize::from(u8::MAX - 2)) as u8;
                        }
                    }
                }
                rows.state[b * LANES..(b + 1) * LANES].copy_from_slice(&state);
            }
        }
        true
    }
}
