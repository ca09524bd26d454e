//! The cascade model: stages of boosted trees over Haar or LBP features, as loaded from XML.
//!
//! The layout mirrors what OpenCV builds in `CascadeClassifierImpl::Data`: flat arrays of
//! stages, trees, nodes, leaves and (for LBP) category subsets, plus the feature list. It is
//! validated once at load time so that detection can index without re-checking. Reading the XML is
//! [`crate::xml`]'s job (`Cascade::from_xml`, `Cascade::from_file`).

use crate::HaarError;

/// Width and height in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Size {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Size {
    /// A size of `width` × `height`.
    pub const fn new(width: u32, height: u32) -> Self {
        Self { width, height }
    }
}

/// An axis-aligned box in image coordinates (top-left corner, width, height), like `cv::Rect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Rect {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub width: i32,
    /// Height.
    pub height: i32,
}

impl Rect {
    /// A box at (`x`, `y`) of `width` × `height`.
    pub const fn new(x: i32, y: i32, width: i32, height: i32) -> Self {
        Self {
            x,
            y,
            width,
            height,
        }
    }

    /// Area in pixels (0 for empty or inverted boxes).
    pub fn area(&self) -> i64 {
        if self.width <= 0 || self.height <= 0 {
            0
        } else {
            i64::from(self.width) * i64::from(self.height)
        }
    }

    /// Intersection over union with `other`, in `[0, 1]`.
    pub fn iou(&self, other: &Rect) -> f64 {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.width).min(other.x + other.width);
        let y1 = (self.y + self.height).min(other.y + other.height);
        let inter = Rect::new(x0, y0, x1 - x0, y1 - y0).area();
        let union = self.area() + other.area() - inter;
        if union <= 0 {
            0.0
        } else {
            inter as f64 / union as f64
        }
    }
}

/// The kind of feature a cascade is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeatureType {
    /// Haar-like rectangle features (upright and 45° tilted), variance normalised.
    Haar,
    /// Multi-block local binary patterns (256 categories).
    Lbp,
}

/// One weighted rectangle of a Haar feature, in window coordinates.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WeightedRect {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
    pub weight: f32,
}

/// A Haar feature: up to three weighted rectangles, upright or tilted by 45°.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HaarFeature {
    pub rects: [WeightedRect; 3],
    pub tilted: bool,
}

/// An LBP feature: the top-left 3×3 grid block of `width` × `height` at (`x`, `y`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LbpFeature {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
}

/// A boosted stage: trees `first_tree .. first_tree + ntrees` must sum to at least `threshold`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stage {
    pub first_tree: usize,
    pub ntrees: usize,
    /// Already lowered by OpenCV's `THRESHOLD_EPS` (1e-5).
    pub threshold: f32,
}

/// A weak tree: nodes `first_node ..` (root first) and leaves `first_leaf ..`
/// (`node_count + 1` of them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tree {
    pub first_node: usize,
    pub node_count: usize,
    pub first_leaf: usize,
}

/// A tree node. `left`/`right` > 0 name another node of the same tree; ≤ 0 name leaf `-left`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    pub feature: usize,
    /// Ordered (Haar) split threshold; unused for LBP (the subset decides).
    pub threshold: f32,
    pub left: i32,
    pub right: i32,
}

/// A loaded, validated cascade classifier.
///
/// Load one with [`Cascade::from_xml`] or [`Cascade::from_file`], then call
/// [`Cascade::detect_multi_scale`]. A `Cascade` is immutable and `Sync`: share it between threads
/// freely.
#[derive(Debug, Clone)]
pub struct Cascade {
    pub(crate) window: Size,
    pub(crate) feature_type: FeatureType,
    pub(crate) stages: Vec<Stage>,
    pub(crate) trees: Vec<Tree>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) leaves: Vec<f32>,
    /// `subset_words` words per node, for LBP cascades only.
    pub(crate) subsets: Vec<i32>,
    pub(crate) subset_words: usize,
    pub(crate) haar_features: Vec<HaarFeature>,
    pub(crate) lbp_features: Vec<LbpFeature>,
    pub(crate) max_nodes_per_tree: usize,
    pub(crate) has_tilted: bool,
}

impl Cascade {
    /// The detection window the cascade was trained on (the smallest object it finds).
    pub fn window_size(&self) -> Size {
        self.window
    }

    /// Haar or LBP.
    pub fn feature_type(&self) -> FeatureType {
        self.feature_type
    }

    /// Number of boosted stages.
    pub fn stage_count(&self) -> usize {
        self.stages.len()
    }

    /// Number of weak trees over all stages.
    pub fn tree_count(&self) -> usize {
        self.trees.len()
    }

    /// Whether any Haar feature is tilted by 45° (needs the tilted integral image).
    pub fn has_tilted_features(&self) -> bool {
        self.has_tilted
    }

    /// Checks every index and coordinate once, so detection can trust them.
    pub(crate) fn validate(&self) -> Result<(), HaarError> {
        let (ww, wh) = (self.window.width as i64, self.window.height as i64);
        let min_side = if self.feature_type == FeatureType::Haar {
            3
        } else {
            1
        };
        if ww < min_side || wh < min_side || ww > 4096 || wh > 4096 {
            return Err(HaarError::malformed(format!(
                "window size {ww}x{wh} is out of range"
            )));
        }
        if self.stages.is_empty() {
            return Err(HaarError::malformed("the cascade has no stages"));
        }
        let inside = |x: i64, y: i64| x >= 0 && y >= 0 && x <= ww && y <= wh;
        for (i, f) in self.haar_features.iter().enumerate() {
            for r in &f.rects {
                let (x, y, w, h) = (
                    i64::from(r.x),
                    i64::from(r.y),
                    i64::from(r.width),
                    i64::from(r.height),
                );
                let ok = w >= 0
                    && h >= 0
                    && if f.tilted {
                        inside(x, y)
                            && inside(x - h, y + h)
                            && inside(x + w, y + w)
                            && inside(x + w - h, y + w + h)
                    } else {
                        inside(x, y) && inside(x + w, y + h)
                    };
                if !ok {
                    return Err(HaarError::malformed(format!(
                        "Haar feature {i} has a rectangle outside the {ww}x{wh} window"
                    )));
                }
            }
        }
        for (i, f) in self.lbp_features.iter().enumerate() {
            let (x, y, w, h) = (
                i64::from(f.x),
                i64::from(f.y),
                i64::from(f.width),
                i64::from(f.height),
            );
            if w < 0 || h < 0 || !inside(x, y) || !inside(x + 3 * w, y + 3 * h) {
                return Err(HaarError::malformed(format!(
                    "LBP feature {i} lies outside the {ww}x{wh} window"
                )));
            }
        }
        let nfeatures = match self.feature_type {
            FeatureType::Haar => self.haar_features.len(),
            FeatureType::Lbp => self.lbp_features.len(),
        };
        if self.feature_type == FeatureType::Lbp && self.subset_words < 8 {
            return Err(HaarError::malformed(
                "LBP cascades need maxCatCount of at least 256",
            ));
        }
        let mut expected_tree = 0;
        for (si, s) in self.stages.iter().enumerate() {
            if s.ntrees == 0 || s.first_tree != expected_tree {
                return Err(HaarError::malformed(format!("stage {si} has no trees")));
            }
            expected_tree += s.ntrees;
        }
        if expected_tree != self.trees.len() {
            return Err(HaarError::malformed("stage and tree counts disagree"));
        }
        for (ti, t) in self.trees.iter().enumerate() {
            if t.node_count == 0
                || t.first_node + t.node_count > self.nodes.len()
                || t.first_leaf + t.node_count + 1 > self.leaves.len()
            {
                return Err(HaarError::malformed(format!(
                    "tree {ti} has dangling nodes or leaves"
                )));
            }
            for n in &self.nodes[t.first_node..t.first_node + t.node_count] {
                if n.feature >= nfeatures {
                    return Err(HaarError::malformed(format!(
                        "tree {ti} refers to feature {} of {nfeatures}",
                        n.feature
                    )));
                }
                for child in [n.left, n.right] {
                    let ok = if child > 0 {
                        (child as usize) < t.node_count
                    } else {
                        (child.unsigned_abs() as usize) <= t.node_count
                    };
                    if !ok {
                        return Err(HaarError::malformed(format!(
                            "tree {ti} has a child index {child} out of range"
                        )));
                    }
                }
            }
            // Every path from the root must end in a leaf within node_count steps; a cycle would
            // make detection loop forever.
            if !tree_terminates(&self.nodes[t.first_node..t.first_node + t.node_count]) {
                return Err(HaarError::malformed(format!("tree {ti} has a cycle")));
            }
        }
        Ok(())
    }
}

/// True when every walk from node 0 reaches a leaf without revisiting a node.
fn tree_terminates(nodes: &[Node]) -> bool {
    // Depth-first over (node, depth); a depth beyond the node count means a cycle.
    let mut stack = vec![(0usize, 0usize)];
    while let Some((i, depth)) = stack.pop() {
        if depth >= nodes.len() {
            return false;
        }
        for child in [nodes[i].left, nodes[i].right] {
            if child > 0 {
                stack.push((child as usize, depth + 1));
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cascade_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Cascade>();
    }

    #[test]
    fn iou_of_identical_boxes_is_one() {
        let r = Rect::new(3, 4, 10, 20);
        assert_eq!(r.iou(&r), 1.0);
    }

    #[test]
    fn iou_of_disjoint_boxes_is_zero() {
        assert_eq!(Rect::new(0, 0, 5, 5).iou(&Rect::new(10, 10, 5, 5)), 0.0);
    }

    #[test]
    fn iou_of_half_overlapping_boxes_is_one_third() {
        let v = Rect::new(0, 0, 10, 10).iou(&Rect::new(5, 0, 10, 10));
        assert!((v - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_tree_with_a_cycle_does_not_terminate() {
        let n = |left, right| Node {
            feature: 0,
            threshold: 0.0,
            left,
            right,
        };
        assert!(tree_terminates(&[n(1, 0), n(0, -1)]));
        assert!(!tree_terminates(&[n(1, 0), n(1, -1)]));
    }
}
