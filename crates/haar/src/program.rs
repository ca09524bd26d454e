//! Cascades compiled to flat programs: every feature's rectangles as precomputed offsets into
//! the integral images, stumps and trees laid out for the window loop, small trees turned into
//! leaf tables. Safe code only; the loop that runs a program is in `eval`.

use crate::cascade::{Cascade, FeatureType, HaarFeature, LbpFeature};
use crate::exact::{int_exact, sums_reassociate};

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
