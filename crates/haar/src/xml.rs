//! Reading OpenCV `FileStorage` XML cascades into the [`Cascade`] model.
//!
//! Numbers are read the way OpenCV reads them: reals as `f64` then narrowed to `f32` where the
//! model is `float`, so thresholds are bit-identical to OpenCV's.

use std::path::Path;

use roxmltree::{Document, Node as XNode, ParsingOptions};

use crate::HaarError;
use crate::cascade::{
    Cascade, FeatureType, HaarFeature, LbpFeature, Node, Size, Stage, Tree, WeightedRect,
};

/// OpenCV lowers every stage threshold by this much when it loads a cascade.
const THRESHOLD_EPS: f32 = 1e-5;

impl Cascade {
    /// Parses an OpenCV cascade XML document: the format written by `opencv_traincascade`
    /// (`<cascade>` with `<featureType>HAAR</featureType>` or `LBP`) or the older
    /// `opencv-haar-classifier` format (converted the way OpenCV 4 converts it on load).
    pub fn from_xml(xml: &str) -> Result<Self, HaarError> {
        let cascade = parse(xml)?;
        cascade.validate()?;
        Ok(cascade)
    }

    /// Reads and parses a cascade XML file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, HaarError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| HaarError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_xml(&text)
    }
}

pub(crate) fn parse(xml: &str) -> Result<Cascade, HaarError> {
    let opts = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(xml, opts).map_err(|e| HaarError::Xml(e.to_string()))?;
    let storage = doc.root_element();
    if storage.tag_name().name() != "opencv_storage" {
        return Err(HaarError::Unsupported(format!(
            "root element is <{}>, expected <opencv_storage>",
            storage.tag_name().name()
        )));
    }
    let top = storage
        .children()
        .find(|n| n.is_element())
        .ok_or_else(|| missing("cascade", "<opencv_storage>"))?;
    if child(top, "stageType").is_some() || child(top, "featureType").is_some() {
        parse_new(top)
    } else if child(top, "size").is_some() && child(top, "stages").is_some() {
        parse_old(top)
    } else {
        Err(HaarError::Unsupported(format!(
            "<{}> is neither a traincascade nor an old haar classifier",
            top.tag_name().name()
        )))
    }
}

fn missing(element: &'static str, context: &str) -> HaarError {
    HaarError::MissingElement {
        element,
        context: context.to_string(),
    }
}

fn child<'a, 'i>(node: XNode<'a, 'i>, name: &str) -> Option<XNode<'a, 'i>> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

fn req<'a, 'i>(node: XNode<'a, 'i>, name: &'static str) -> Result<XNode<'a, 'i>, HaarError> {
    child(node, name).ok_or_else(|| missing(name, &format!("<{}>", node.tag_name().name())))
}

/// Element children (OpenCV sequence items are `<_>` elements).
fn items<'a, 'i>(node: XNode<'a, 'i>) -> impl Iterator<Item = XNode<'a, 'i>> {
    node.children().filter(|n| n.is_element())
}

/// All text directly inside `node` (comments skipped).
fn text_of(node: XNode<'_, '_>) -> String {
    node.children()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join(" ")
}

fn bad_number(element: &'static str, text: &str) -> HaarError {
    HaarError::InvalidNumber {
        element,
        text: text.chars().take(40).collect(),
    }
}

fn parse_real(tok: &str, element: &'static str) -> Result<f64, HaarError> {
    match tok.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(bad_number(element, tok)),
    }
}

/// An integer token; reals are rounded like OpenCV's `(int)` conversion of a real node.
fn parse_int(tok: &str, element: &'static str) -> Result<i32, HaarError> {
    if let Ok(v) = tok.parse::<i64>() {
        return i32::try_from(v).map_err(|_| bad_number(element, tok));
    }
    let v = parse_real(tok, element)?.round_ties_even();
    if v < f64::from(i32::MIN) || v > f64::from(i32::MAX) {
        return Err(bad_number(element, tok));
    }
    Ok(v as i32)
}

fn tokens(node: XNode<'_, '_>) -> Vec<String> {
    text_of(node)
        .split_ascii_whitespace()
        .map(str::to_string)
        .collect()
}

fn scalar_int(node: XNode<'_, '_>, element: &'static str) -> Result<i32, HaarError> {
    let toks = tokens(node);
    match toks.as_slice() {
        [one] => parse_int(one, element),
        _ => Err(bad_number(element, &text_of(node))),
    }
}

fn scalar_real(node: XNode<'_, '_>, element: &'static str) -> Result<f64, HaarError> {
    let toks = tokens(node);
    match toks.as_slice() {
        [one] => parse_real(one, element),
        _ => Err(bad_number(element, &text_of(node))),
    }
}

fn window_side(v: i32, what: &'static str) -> Result<u32, HaarError> {
    u32::try_from(v)
        .ok()
        .filter(|&v| v > 0)
        .ok_or_else(|| HaarError::malformed(format!("window {what} must be positive, got {v}")))
}

/// Builder shared by both formats.
struct Builder {
    stages: Vec<Stage>,
    trees: Vec<Tree>,
    nodes: Vec<Node>,
    leaves: Vec<f32>,
    subsets: Vec<i32>,
    max_nodes: usize,
}

impl Builder {
    fn new() -> Self {
        Self {
            stages: Vec::new(),
            trees: Vec::new(),
            nodes: Vec::new(),
            leaves: Vec::new(),
            subsets: Vec::new(),
            max_nodes: 0,
        }
    }
}

/// The `opencv_traincascade` format.
fn parse_new(top: XNode<'_, '_>) -> Result<Cascade, HaarError> {
    let stage_type = text_of(req(top, "stageType")?).trim().to_string();
    if stage_type != "BOOST" {
        return Err(HaarError::Unsupported(format!(
            "stage type {stage_type:?} (only BOOST is supported)"
        )));
    }
    let feature_type = match text_of(req(top, "featureType")?).trim() {
        "HAAR" => FeatureType::Haar,
        "LBP" => FeatureType::Lbp,
        other => {
            return Err(HaarError::Unsupported(format!(
                "feature type {other:?} (only HAAR and LBP are supported)"
            )));
        }
    };
    let width = window_side(scalar_int(req(top, "width")?, "width")?, "width")?;
    let height = window_side(scalar_int(req(top, "height")?, "height")?, "height")?;

    let ncategories = match child(req(top, "featureParams")?, "maxCatCount") {
        Some(n) => scalar_int(n, "maxCatCount")?,
        None => 0,
    };
    if !(0..=(1 << 16)).contains(&ncategories) {
        return Err(bad_number("maxCatCount", &ncategories.to_string()));
    }
    if feature_type == FeatureType::Haar && ncategories > 0 {
        return Err(HaarError::Unsupported(
            "categorical splits on Haar features".into(),
        ));
    }
    let subset_words = (ncategories as usize).div_ceil(32);
    let node_step = 3 + if ncategories > 0 { subset_words } else { 1 };

    let mut b = Builder::new();
    for (si, stage_node) in items(req(top, "stages")?).enumerate() {
        let threshold = scalar_real(req(stage_node, "stageThreshold")?, "stageThreshold")? as f32
            - THRESHOLD_EPS;
        let weak = req(stage_node, "weakClassifiers")?;
        let first_tree = b.trees.len();
        for tree_node in items(weak) {
            let internal = tokens(req(tree_node, "internalNodes")?);
            let leaf_toks = tokens(req(tree_node, "leafValues")?);
            if internal.is_empty() || !internal.len().is_multiple_of(node_step) {
                return Err(HaarError::malformed(format!(
                    "stage {si}: internalNodes holds {} values, not a multiple of {node_step}",
                    internal.len()
                )));
            }
            let node_count = internal.len() / node_step;
            if leaf_toks.len() != node_count + 1 {
                return Err(HaarError::malformed(format!(
                    "stage {si}: a tree of {node_count} nodes has {} leaves",
                    leaf_toks.len()
                )));
            }
            b.trees.push(Tree {
                first_node: b.nodes.len(),
                node_count,
                first_leaf: b.leaves.len(),
            });
            b.max_nodes = b.max_nodes.max(node_count);
            for chunk in internal.chunks_exact(node_step) {
                let left = parse_int(&chunk[0], "internalNodes")?;
                let right = parse_int(&chunk[1], "internalNodes")?;
                let feature = parse_int(&chunk[2], "internalNodes")?;
                let feature =
                    usize::try_from(feature).map_err(|_| bad_number("internalNodes", &chunk[2]))?;
                let threshold = if ncategories > 0 {
                    for tok in &chunk[3..] {
                        b.subsets.push(parse_int(tok, "internalNodes")?);
                    }
                    0.0
                } else {
                    parse_real(&chunk[3], "internalNodes")? as f32
                };
                b.nodes.push(Node {
                    feature,
                    threshold,
                    left,
                    right,
                });
            }
            for tok in &leaf_toks {
                b.leaves.push(parse_real(tok, "leafValues")? as f32);
            }
        }
        b.stages.push(Stage {
            first_tree,
            ntrees: b.trees.len() - first_tree,
            threshold,
        });
        if b.stages[si].ntrees == 0 {
            return Err(HaarError::malformed(format!(
                "stage {si} has no weak classifiers"
            )));
        }
    }

    let features = req(top, "features")?;
    let mut haar_features = Vec::new();
    let mut lbp_features = Vec::new();
    match feature_type {
        FeatureType::Haar => {
            for f in items(features) {
                let mut feature = HaarFeature::default();
                for (ri, r) in items(req(f, "rects")?).enumerate() {
                    if ri >= 3 {
                        return Err(HaarError::malformed(
                            "a Haar feature has more than 3 rectangles",
                        ));
                    }
                    feature.rects[ri] = weighted_rect(&tokens(r))?;
                }
                if let Some(t) = child(f, "tilted") {
                    feature.tilted = scalar_int(t, "tilted")? != 0;
                }
                haar_features.push(feature);
            }
        }
        FeatureType::Lbp => {
            for f in items(features) {
                let toks = tokens(req(f, "rect")?);
                if toks.len() != 4 {
                    return Err(bad_number("rect", &toks.join(" ")));
                }
                lbp_features.push(LbpFeature {
                    x: parse_int(&toks[0], "rect")?,
                    y: parse_int(&toks[1], "rect")?,
                    width: parse_int(&toks[2], "rect")?,
                    height: parse_int(&toks[3], "rect")?,
                });
            }
        }
    }
    Ok(finish(
        b,
        Size::new(width, height),
        feature_type,
        subset_words,
        haar_features,
        lbp_features,
    ))
}

fn weighted_rect(toks: &[String]) -> Result<WeightedRect, HaarError> {
    if toks.len() != 5 {
        return Err(bad_number("rects", &toks.join(" ")));
    }
    Ok(WeightedRect {
        x: parse_int(&toks[0], "rects")?,
        y: parse_int(&toks[1], "rects")?,
        width: parse_int(&toks[2], "rects")?,
        height: parse_int(&toks[3], "rects")?,
        weight: parse_real(&toks[4], "rects")? as f32,
    })
}

fn finish(
    b: Builder,
    window: Size,
    feature_type: FeatureType,
    subset_words: usize,
    haar_features: Vec<HaarFeature>,
    lbp_features: Vec<LbpFeature>,
) -> Cascade {
    let has_tilted = haar_features.iter().any(|f| f.tilted);
    Cascade {
        window,
        feature_type,
        stages: b.stages,
        trees: b.trees,
        nodes: b.nodes,
        leaves: b.leaves,
        subsets: b.subsets,
        subset_words,
        haar_features,
        lbp_features,
        max_nodes_per_tree: b.max_nodes,
        has_tilted,
    }
}

/// The pre-2010 `opencv-haar-classifier` format, converted as OpenCV 4's `haar_cvt::convert`
/// does: every node gets its own feature, `left_val`/`right_val` become leaves numbered in the
/// order they appear, `parent`/`next` (tree cascades) are ignored.
fn parse_old(top: XNode<'_, '_>) -> Result<Cascade, HaarError> {
    let size = tokens(req(top, "size")?);
    if size.len() != 2 {
        return Err(bad_number("size", &size.join(" ")));
    }
    let width = window_side(parse_int(&size[0], "size")?, "width")?;
    let height = window_side(parse_int(&size[1], "size")?, "height")?;

    let mut b = Builder::new();
    let mut haar_features = Vec::new();
    for (si, stage_node) in items(req(top, "stages")?).enumerate() {
        // Written back as a double and re-read as float by OpenCV's converter.
        let threshold = scalar_real(req(stage_node, "stage_threshold")?, "stage_threshold")? as f32
            - THRESHOLD_EPS;
        let first_tree = b.trees.len();
        for tree_node in items(req(stage_node, "trees")?) {
            let first_node = b.nodes.len();
            let first_leaf = b.leaves.len();
            let mut nleaves: i32 = 0;
            for node in items(tree_node) {
                let fnode = req(node, "feature")?;
                let mut feature = HaarFeature::default();
                for (ri, r) in items(req(fnode, "rects")?).enumerate() {
                    if ri >= 3 {
                        return Err(HaarError::malformed(
                            "a Haar feature has more than 3 rectangles",
                        ));
                    }
                    feature.rects[ri] = weighted_rect(&tokens(r))?;
                }
                // The converter drops a third rectangle whose weight is ~0.
                if feature.rects[2].weight.abs() < f32::EPSILON {
                    feature.rects[2] = WeightedRect::default();
                }
                if let Some(t) = child(fnode, "tilted") {
                    feature.tilted = scalar_int(t, "tilted")? != 0;
                }
                let threshold = scalar_real(req(node, "threshold")?, "threshold")? as f32;
                let mut side = |val: &'static str, idx: &'static str| -> Result<i32, HaarError> {
                    if let Some(v) = child(node, val) {
                        b.leaves.push(scalar_real(v, val)? as f32);
                        nleaves += 1;
                        Ok(-(nleaves - 1))
                    } else if let Some(n) = child(node, idx) {
                        scalar_int(n, idx)
                    } else {
                        Err(missing(val, "an old-format tree node"))
                    }
                };
                let left = side("left_val", "left_node")?;
                let right = side("right_val", "right_node")?;
                b.nodes.push(Node {
                    feature: haar_features.len(),
                    threshold,
                    left,
                    right,
                });
                haar_features.push(feature);
            }
            let node_count = b.nodes.len() - first_node;
            if node_count == 0 || nleaves as usize != node_count + 1 {
                return Err(HaarError::malformed(format!(
                    "stage {si}: a tree of {node_count} nodes has {nleaves} leaves"
                )));
            }
            b.max_nodes = b.max_nodes.max(node_count);
            b.trees.push(Tree {
                first_node,
                node_count,
                first_leaf,
            });
        }
        let ntrees = b.trees.len() - first_tree;
        if ntrees == 0 {
            return Err(HaarError::malformed(format!("stage {si} has no trees")));
        }
        b.stages.push(Stage {
            first_tree,
            ntrees,
            threshold,
        });
    }
    Ok(finish(
        b,
        Size::new(width, height),
        FeatureType::Haar,
        0,
        haar_features,
        Vec::new(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_STUMP: &str = r#"<?xml version="1.0"?>
<opencv_storage>
<cascade type_id="opencv-cascade-classifier"><stageType>BOOST</stageType>
  <featureType>HAAR</featureType>
  <height>4</height>
  <width>6</width>
  <stageParams><maxWeakCount>1</maxWeakCount></stageParams>
  <featureParams><maxCatCount>0</maxCatCount></featureParams>
  <stageNum>1</stageNum>
  <stages>
    <!-- stage 0 -->
    <_>
      <maxWeakCount>1</maxWeakCount>
      <stageThreshold>0.5</stageThreshold>
      <weakClassifiers>
        <_><internalNodes>0 -1 0 1.5e-01</internalNodes>
          <leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>
  <features>
    <_><rects><_>0 0 6 4 -1.</_><_>0 0 3 4 2.</_></rects></_></features></cascade>
</opencv_storage>"#;

    #[test]
    fn a_one_stump_cascade_loads_with_opencv_threshold_adjustment() {
        let c = Cascade::from_xml(ONE_STUMP).unwrap();
        assert_eq!(c.window_size(), Size::new(6, 4));
        assert_eq!(c.feature_type(), FeatureType::Haar);
        assert_eq!(c.stage_count(), 1);
        assert_eq!(c.stages[0].threshold, 0.5f32 - 1e-5f32);
        assert_eq!(c.nodes[0].threshold, 0.15f64 as f32);
        assert_eq!(c.leaves, vec![-1.0, 1.0]);
        assert_eq!(c.haar_features[0].rects[1].weight, 2.0);
        assert!(!c.has_tilted_features());
    }

    #[test]
    fn text_that_is_not_xml_is_an_xml_error() {
        assert!(matches!(
            Cascade::from_xml("<opencv_storage><cascade>"),
            Err(HaarError::Xml(_))
        ));
    }

    #[test]
    fn a_missing_stages_element_is_reported_by_name() {
        let xml = ONE_STUMP
            .replace("<stages>", "<stagez>")
            .replace("</stages>", "</stagez>");
        assert!(matches!(
            Cascade::from_xml(&xml),
            Err(HaarError::MissingElement {
                element: "stages",
                ..
            })
        ));
    }

    #[test]
    fn a_garbled_threshold_is_an_invalid_number() {
        let xml = ONE_STUMP.replace("1.5e-01", "1.5x-01");
        assert!(matches!(
            Cascade::from_xml(&xml),
            Err(HaarError::InvalidNumber {
                element: "internalNodes",
                ..
            })
        ));
    }

    #[test]
    fn a_hog_cascade_is_unsupported() {
        let xml = ONE_STUMP.replace(">HAAR<", ">HOG<");
        assert!(matches!(
            Cascade::from_xml(&xml),
            Err(HaarError::Unsupported(_))
        ));
    }

    #[test]
    fn a_feature_index_past_the_end_is_malformed() {
        let xml = ONE_STUMP.replace("0 -1 0 1.5e-01", "0 -1 7 1.5e-01");
        assert!(matches!(
            Cascade::from_xml(&xml),
            Err(HaarError::MalformedCascade(_))
        ));
    }

    #[test]
    fn a_rectangle_outside_the_window_is_malformed() {
        let xml = ONE_STUMP.replace("<_>0 0 3 4 2.</_>", "<_>4 0 3 4 2.</_>");
        assert!(matches!(
            Cascade::from_xml(&xml),
            Err(HaarError::MalformedCascade(_))
        ));
    }

    #[test]
    fn a_tree_with_too_few_leaves_is_malformed() {
        let xml = ONE_STUMP.replace(
            "<leafValues>-1. 1.</leafValues>",
            "<leafValues>-1.</leafValues>",
        );
        assert!(matches!(
            Cascade::from_xml(&xml),
            Err(HaarError::MalformedCascade(_))
        ));
    }

    #[test]
    fn a_wrong_root_element_is_unsupported() {
        assert!(matches!(
            Cascade::from_xml("<svg></svg>"),
            Err(HaarError::Unsupported(_))
        ));
    }

    #[test]
    fn an_old_format_cascade_converts_like_opencv() {
        let xml = r#"<?xml version="1.0"?>
<opencv_storage>
<plate type_id="opencv-haar-classifier">
  <size>8 4</size>
  <stages>
    <_>
      <trees>
        <_>
          <_>
            <feature><rects><_>0 0 8 4 -1.</_><_>0 0 4 4 2.</_></rects><tilted>0</tilted></feature>
            <threshold>0.25</threshold>
            <left_node>1</left_node>
            <right_val>0.75</right_val></_>
          <_>
            <feature><rects><_>0 0 8 2 -1.</_><_>0 2 8 2 2.</_></rects><tilted>0</tilted></feature>
            <threshold>-0.5</threshold>
            <left_val>-1.</left_val>
            <right_val>1.</right_val></_></_></trees>
      <stage_threshold>0.1</stage_threshold>
      <parent>-1</parent>
      <next>-1</next></_></stages></plate>
</opencv_storage>"#;
        let c = Cascade::from_xml(xml).unwrap();
        assert_eq!(c.window_size(), Size::new(8, 4));
        assert_eq!(c.max_nodes_per_tree, 2);
        assert_eq!(c.leaves, vec![0.75, -1.0, 1.0]);
        assert_eq!((c.nodes[0].left, c.nodes[0].right), (1, 0));
        assert_eq!((c.nodes[1].left, c.nodes[1].right), (-1, -2));
        assert_eq!(c.nodes[1].feature, 1);
        assert_eq!(c.stages[0].threshold, 0.1f32 - 1e-5);
    }
}
