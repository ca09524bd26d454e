//! A trained detector as one self-contained ONNX model, runnable by any ONNX runtime: the
//! backbone graph (read back from its ONNX bytes), the exact per-cell feature composition of
//! [`crate::train::features`], the head of [`crate::train::head`] as 1×1 convolutions, and the
//! CenterNet peak test, all in one graph ([`detector_onnx`]). [`Exported`] runs such a model
//! through `atelier_infer` and decodes it exactly as [`crate::train::decode`] decodes the head.
//!
//! The graph (fixed input size `width × height`, multiples of 32; `h = height / 8`,
//! `w = width / 8`; `C` classes):
//!
//! | name | shape | meaning |
//! |---|---|---|
//! | input [`INPUT`] | `[1, 3, height, width]` | RGB in `[0, 1]` (pixel / 255), the image scaled to fit (aspect kept) at the top-left, the rest filled with [`MEAN`] |
//! | output `heatmap` | `[1, C, h, w]` | sigmoid score of an object of class `k` centred in cell `(y, x)` |
//! | output `peaks` | `[1, C, h, w]` | `heatmap` where the cell's logit is the largest of its 3×3 neighbourhood (ties kept), else 0 |
//! | output `size` | `[1, 2, h, w]` | box width and height in network pixels |
//! | output `offset` | `[1, 2, h, w]` | box centre inside the cell, in cells (x, y) |
//!
//! Decoding (what `POST /api/v1/detect?detector=` does): every `(y, x, k)`, row by row, with
//! `peaks ≥ min_score` is a box centred at `((x + offset_x) · 8, (y + offset_y) · 8)` of
//! `size`; sort by score (stable, best first), keep 100, divide by the fit scale, clip to the
//! image, drop empty boxes.

use atelier_infer::convert::efficientnet_lite::{BACKBONE_OUTPUTS, INPUT_NAME};
use atelier_infer::convert::onnx::{Attr, Dim, Graph, Initializer, Node, ValueInfo};
use atelier_infer::{Model, Tensor};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::BBox;
use crate::train::features::{CONTEXT_RADII, MEAN, STD, STRIDE, fitted, scale_to_fit};
use crate::train::head::Head;

/// The exported model's input.
pub const INPUT: &str = "image";
/// The exported model's outputs, in order.
pub const OUTPUTS: [&str; 4] = ["heatmap", "peaks", "size", "offset"];
/// Most detections per image, as the API serves.
pub const MAX_DETECTIONS: usize = 100;
/// Prefix of every node and value the exporter adds (the backbone's names never start with it).
const PREFIX: &str = "detector/";

/// Why a detector could not be exported or run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExportError {
    /// The backbone ONNX is not the feature trunk the head was trained on.
    #[error("backbone: {0}")]
    Backbone(String),
    /// The head or the input size does not fit the backbone.
    #[error("head: {0}")]
    Head(String),
    /// Running the exported model failed.
    #[error("run: {0}")]
    Run(String),
}

/// The channels of backbone output `name`.
fn channels(g: &Graph, name: &str) -> Result<usize, ExportError> {
    let vi = g
        .outputs
        .iter()
        .find(|o| o.name == name)
        .ok_or_else(|| ExportError::Backbone(format!("no output {name:?}")))?;
    match vi.dims.get(1) {
        Some(Dim::Fixed(c)) if *c > 0 => Ok(*c as usize),
        _ => Err(ExportError::Backbone(format!(
            "output {name:?} has no fixed channel count"
        ))),
    }
}

/// Builds the graph nodes with unique prefixed names.
struct Builder {
    graph: Graph,
    count: usize,
}

impl Builder {
    fn constant(&mut self, name: &str, dims: &[usize], values: &[f32]) -> String {
        let name = format!("{PREFIX}{name}");
        self.graph
            .initializers
            .push(Initializer::f32(&name, dims, values));
        name
    }

    fn ints(&mut self, name: &str, values: &[i64]) -> String {
        let name = format!("{PREFIX}{name}");
        self.graph
            .initializers
            .push(Initializer::i64(&name, &[values.len()], values));
        name
    }

    fn op(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        self.count += 1;
        let name = format!("{PREFIX}{}_{}", op.to_lowercase(), self.count);
        self.graph.node(op, &name, inputs, attrs)
    }

    /// A node whose output is the graph value `output`.
    fn named(&mut self, op: &str, inputs: &[&str], output: &str) {
        self.graph.nodes.push(Node {
            name: format!("{PREFIX}{output}"),
            op_type: op.into(),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: vec![output.into()],
            attrs: vec![],
        });
    }

    /// Channels `[from, to)` of a `[1, c, h, w]` value.
    fn channels(&mut self, x: &str, from: usize, to: usize) -> String {
        let starts = self.ints(&format!("slice_{from}_start"), &[from as i64]);
        let ends = self.ints(&format!("slice_{from}_end"), &[to as i64]);
        let axes = self.ints(&format!("slice_{from}_axes"), &[1]);
        self.op("Slice", &[x, &starts, &ends, &axes], vec![])
    }

    /// `[1, c, h, w]` → `[1, c, 2h, 2w]`, each value repeated 2×2 (nearest upsampling:
    /// `out[y][x] = in[y / 2][x / 2]`).
    fn upsample2(&mut self, x: &str, c: usize, h: usize, w: usize) -> String {
        let tag = self.count;
        let split = self.ints(
            &format!("up{tag}_split"),
            &[1, c as i64, h as i64, 1, w as i64, 1],
        );
        let wide = self.ints(
            &format!("up{tag}_wide"),
            &[1, c as i64, h as i64, 2, w as i64, 2],
        );
        let merged = self.ints(
            &format!("up{tag}_merged"),
            &[1, c as i64, 2 * h as i64, 2 * w as i64],
        );
        let y = self.op("Reshape", &[x, &split], vec![]);
        let y = self.op("Expand", &[&y, &wide], vec![]);
        self.op("Reshape", &[&y, &merged], vec![])
    }
}

fn fixed(dims: &[usize]) -> Vec<Dim> {
    dims.iter().map(|&d| Dim::Fixed(d as i64)).collect()
}

/// The detector graph: `backbone` (the studio's feature trunk, inputs [`INPUT_NAME`], outputs
/// [`BACKBONE_OUTPUTS`]) with normalisation in front and the head behind, at a fixed
/// `width × height` input (multiples of 32). See the module docs for inputs and outputs.
pub fn detector_graph(
    mut backbone: Graph,
    head: &Head,
    width: usize,
    height: usize,
) -> Result<Graph, ExportError> {
    if width == 0 || height == 0 || !width.is_multiple_of(32) || !height.is_multiple_of(32) {
        return Err(ExportError::Head(format!(
            "input {width}x{height} must be multiples of 32"
        )));
    }
    if backbone.inputs.len() != 1 || backbone.inputs[0].name != INPUT_NAME {
        return Err(ExportError::Backbone(format!(
            "expected one input {INPUT_NAME:?}"
        )));
    }
    let (c8, c16) = (
        channels(&backbone, BACKBONE_OUTPUTS[0])?,
        channels(&backbone, BACKBONE_OUTPUTS[1])?,
    );
    let classes = head.classes;
    // Context means the head reads (a prefix of CONTEXT_RADII: older heads read fewer).
    let contexts = head
        .dim
        .checked_sub(c8 + c16)
        .filter(|rest| c16 > 0 && rest.is_multiple_of(c16))
        .map_or(0, |rest| rest / c16);
    if contexts == 0
        || contexts > CONTEXT_RADII.len()
        || head.mean.len() != head.dim
        || head.inv_std.len() != head.dim
        || head.w1.len() != head.hidden * head.dim
        || head.b1.len() != head.hidden
        || head.w2.len() != (classes + 4) * head.hidden
        || head.b2.len() != classes + 4
        || classes == 0
    {
        return Err(ExportError::Head(format!(
            "a head of {} features, {} hidden, {classes} classes does not fit a backbone of \
             {c8} + k × {c16} channels (k = 2..={})",
            head.dim,
            head.hidden,
            CONTEXT_RADII.len() + 1
        )));
    }
    let taken = |n: &str| n.starts_with(PREFIX) || OUTPUTS.contains(&n) || n == INPUT;
    if backbone
        .nodes
        .iter()
        .any(|n| n.outputs.iter().any(|o| taken(o)) || n.inputs.iter().any(|i| taken(i)))
        || backbone.initializers.iter().any(|i| taken(&i.name))
    {
        return Err(ExportError::Backbone(
            "its value names clash with the exporter's".into(),
        ));
    }
    let trunk = std::mem::take(&mut backbone.nodes);
    backbone.inputs.clear();
    backbone.outputs.clear();
    backbone.name = format!("atelier-detector ({})", backbone.name);
    let mut b = Builder {
        graph: backbone,
        count: 0,
    };

    // Normalisation: (image - mean) / std, then the trunk reads it as its input.
    let mean = b.constant("pixel_mean", &[1, 3, 1, 1], &MEAN);
    let std = b.constant("pixel_std", &[1, 3, 1, 1], &STD);
    let centred = b.op("Sub", &[INPUT, &mean], vec![]);
    let normalised = b.op("Div", &[&centred, &std], vec![]);
    for mut node in trunk {
        for input in &mut node.inputs {
            if input == INPUT_NAME {
                input.clone_from(&normalised);
            }
        }
        b.graph.nodes.push(node);
    }

    // Features per stride-8 cell (features::combine): the cell's stride-8 channels, its
    // stride-16 parent's channels, the means of the parent's (2r + 1)² neighbourhoods for the
    // head's CONTEXT_RADII (edges average what exists: count_include_pad = 0).
    let (h8, w8, h16, w16) = (height / 8, width / 8, height / 16, width / 16);
    let parent = b.upsample2(BACKBONE_OUTPUTS[1], c16, h16, w16);
    let mut parts = vec![BACKBONE_OUTPUTS[0].to_string(), parent];
    for &r in &CONTEXT_RADII[..contexts] {
        let (k, r) = (2 * r as i64 + 1, r as i64);
        let context = b.op(
            "AveragePool",
            &[BACKBONE_OUTPUTS[1]],
            vec![
                ("kernel_shape", Attr::Ints(vec![k, k])),
                ("pads", Attr::Ints(vec![r, r, r, r])),
                ("strides", Attr::Ints(vec![1, 1])),
                ("count_include_pad", Attr::Int(0)),
            ],
        );
        parts.push(b.upsample2(&context, c16, h16, w16));
    }
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let features = b.op("Concat", &parts, vec![("axis", Attr::Int(1))]);

    // The head: standardisation, then two 1×1 convolutions.
    let dim = head.dim;
    let f_mean = b.constant("feature_mean", &[1, dim, 1, 1], &head.mean);
    let f_inv = b.constant("feature_inv_std", &[1, dim, 1, 1], &head.inv_std);
    let x = b.op("Sub", &[&features, &f_mean], vec![]);
    let x = b.op("Mul", &[&x, &f_inv], vec![]);
    let conv = vec![
        ("kernel_shape", Attr::Ints(vec![1, 1])),
        ("pads", Attr::Ints(vec![0, 0, 0, 0])),
        ("strides", Attr::Ints(vec![1, 1])),
    ];
    let w1 = b.constant("w1", &[head.hidden, dim, 1, 1], &head.w1);
    let b1 = b.constant("b1", &[head.hidden], &head.b1);
    let hidden = b.op("Conv", &[&x, &w1, &b1], conv.clone());
    let hidden = b.op("Relu", &[&hidden], vec![]);
    let w2 = b.constant("w2", &[classes + 4, head.hidden, 1, 1], &head.w2);
    let b2 = b.constant("b2", &[classes + 4], &head.b2);
    let out = b.op("Conv", &[&hidden, &w2, &b2], conv);

    // Outputs.
    let logits = b.channels(&out, 0, classes);
    b.named("Sigmoid", &[&logits], OUTPUTS[0]);
    let pooled = b.op(
        "MaxPool",
        &[&logits],
        vec![
            ("kernel_shape", Attr::Ints(vec![3, 3])),
            ("pads", Attr::Ints(vec![1, 1, 1, 1])),
            ("strides", Attr::Ints(vec![1, 1])),
        ],
    );
    let is_peak = b.op("Equal", &[&pooled, &logits], vec![]);
    let zero = b.constant("zero", &[], &[0.0]);
    b.named("Where", &[&is_peak, OUTPUTS[0], &zero], OUTPUTS[1]);
    let log_size = b.channels(&out, classes, classes + 2);
    let cells = b.op("Exp", &[&log_size], vec![]);
    let stride = b.constant("stride", &[], &[STRIDE as f32]);
    b.named("Mul", &[&cells, &stride], OUTPUTS[2]);
    let offset = b.channels(&out, classes + 2, classes + 4);
    b.named("Identity", &[&offset], OUTPUTS[3]);

    b.graph.inputs.push(ValueInfo {
        name: INPUT.into(),
        dims: fixed(&[1, 3, height, width]),
    });
    for (name, c) in OUTPUTS.iter().zip([classes, classes, 2, 2]) {
        b.graph.outputs.push(ValueInfo {
            name: (*name).into(),
            dims: fixed(&[1, c, h8, w8]),
        });
    }
    Ok(b.graph)
}

/// [`detector_graph`] from the backbone's ONNX bytes, encoded as ONNX bytes.
pub fn detector_onnx(
    backbone_onnx: &[u8],
    head: &Head,
    width: usize,
    height: usize,
) -> Result<Vec<u8>, ExportError> {
    let backbone =
        Graph::decode(backbone_onnx).map_err(|err| ExportError::Backbone(err.to_string()))?;
    Ok(detector_graph(backbone, head, width, height)?.encode("atelier-detector"))
}

/// The exported model's input for `image` and the scale from image to network pixels: the
/// image scaled to fit (as the backbone does), RGB / 255 at the top-left, [`MEAN`] elsewhere.
pub fn input(image: &RgbImage, width: usize, height: usize) -> Result<(Tensor, f64), ExportError> {
    let scale = scale_to_fit(image.width(), image.height(), width, height);
    let resized = fitted(image, width, height);
    let plane = width * height;
    let mut data = vec![0.0f32; 3 * plane];
    for (c, m) in MEAN.iter().enumerate() {
        data[c * plane..(c + 1) * plane].fill(*m);
    }
    for (x, y, p) in resized.enumerate_pixels() {
        for c in 0..3 {
            data[c * plane + y as usize * width + x as usize] = f32::from(p.0[c]) / 255.0;
        }
    }
    let tensor = Tensor::new(vec![1, 3, height, width], data)
        .map_err(|e| ExportError::Run(e.to_string()))?;
    Ok((tensor, scale))
}

/// Detections from the model's `peaks`, `size` and `offset` outputs: every peak scoring at least
/// `min_score` (and above 0), row by row, best first (stable), per-class non-maximum
/// suppression ([`crate::nms`]), at most `max_detections`; boxes in network pixels.
pub fn decode_outputs(
    peaks: &Tensor,
    size: &Tensor,
    offset: &Tensor,
    min_score: f32,
    max_detections: usize,
) -> Result<Vec<(usize, BBox, f32)>, ExportError> {
    let &[1, classes, h, w] = peaks.shape() else {
        return Err(ExportError::Run(format!(
            "peaks has shape {:?}",
            peaks.shape()
        )));
    };
    for t in [size, offset] {
        if t.shape() != [1, 2, h, w] {
            return Err(ExportError::Run(format!(
                "size/offset has shape {:?}",
                t.shape()
            )));
        }
    }
    let (p, sz, off) = (peaks.data(), size.data(), offset.data());
    let plane = h * w;
    let s = STRIDE as f64;
    let mut found = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let at = y * w + x;
            for k in 0..classes {
                let score = p[k * plane + at];
                if !(score > 0.0 && score >= min_score) {
                    continue;
                }
                let (bw, bh) = (f64::from(sz[at]), f64::from(sz[plane + at]));
                let (cx, cy) = (
                    (x as f64 + f64::from(off[at])) * s,
                    (y as f64 + f64::from(off[plane + at])) * s,
                );
                found.push((
                    k,
                    BBox::new(cx - bw / 2.0, cy - bh / 2.0, cx + bw / 2.0, cy + bh / 2.0),
                    score,
                ));
            }
        }
    }
    found.sort_by(|a, b| b.2.total_cmp(&a.2));
    Ok(crate::nms::suppress_overlaps(found, max_detections))
}

/// Boxes in network pixels → image pixels (divided by `scale`, clipped to `width × height`),
/// empty ones dropped.
pub fn to_image(
    found: Vec<(usize, BBox, f32)>,
    scale: f64,
    width: u32,
    height: u32,
) -> Vec<(usize, BBox, f32)> {
    let (w, h) = (f64::from(width), f64::from(height));
    found
        .into_iter()
        .filter_map(|(class, b, score)| {
            let bbox = BBox::new(
                (b.xtl / scale).clamp(0.0, w),
                (b.ytl / scale).clamp(0.0, h),
                (b.xbr / scale).clamp(0.0, w),
                (b.ybr / scale).clamp(0.0, h),
            );
            bbox.is_proper().then_some((class, bbox, score))
        })
        .collect()
}

/// An exported detector loaded in an `atelier_infer` runtime.
pub struct Exported {
    model: Box<dyn Model>,
    /// Input width.
    pub width: usize,
    /// Input height.
    pub height: usize,
}

impl Exported {
    /// Wraps a loaded exported model whose input is `width × height`.
    pub fn new(model: Box<dyn Model>, width: usize, height: usize) -> Self {
        Self {
            model,
            width,
            height,
        }
    }

    /// Runs the model on `image`: all four outputs.
    pub fn outputs(
        &mut self,
        image: &RgbImage,
    ) -> Result<(atelier_infer::Outputs, f64), ExportError> {
        let (tensor, scale) = input(image, self.width, self.height)?;
        let out = self
            .model
            .run(&tensor)
            .map_err(|e| ExportError::Run(e.to_string()))?;
        Ok((out, scale))
    }

    /// Detections in image pixels scoring at least `min_score`, best first (what
    /// `POST /api/v1/detect?detector=` returns for the same detector).
    pub fn detect(
        &mut self,
        image: &RgbImage,
        min_score: f32,
    ) -> Result<Vec<(usize, BBox, f32)>, ExportError> {
        let (out, scale) = self.outputs(image)?;
        let get = |name: &str| {
            out.get(name)
                .ok_or_else(|| ExportError::Run(format!("no output {name:?}")))
        };
        let found = decode_outputs(
            get(OUTPUTS[1])?,
            get(OUTPUTS[2])?,
            get(OUTPUTS[3])?,
            min_score,
            MAX_DETECTIONS,
        )?;
        Ok(to_image(found, scale, image.width(), image.height()))
    }
}

/// The download's `decode.py`: reference pre-processing and decoding with onnxruntime.
pub const DECODE_PY: &str = include_str!("export_files/decode.py");
const README_TEMPLATE: &str = include_str!("export_files/README.md");

/// One class of `labels.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelEntry {
    /// Class index (the channel of `heatmap`/`peaks`).
    pub class: usize,
    /// The studio label's id.
    pub label_id: i64,
    /// Its name.
    pub name: String,
    /// Its `#rrggbb` colour.
    pub color: String,
}

/// The network input size in `labels.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSize {
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
}

/// `labels.json`: the label map and what decoding needs besides the ONNX file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelMap {
    /// Classes in class order.
    pub labels: Vec<LabelEntry>,
    /// The model's input size.
    pub input: InputSize,
    /// Network pixels per cell.
    pub stride: usize,
    /// Most detections kept per image.
    pub max_detections: usize,
}

impl LabelMap {
    /// The map of `labels` (`(label id, name, colour)` in class order) at `width × height`.
    pub fn new(labels: &[(i64, String, String)], width: usize, height: usize) -> Self {
        Self {
            labels: labels
                .iter()
                .enumerate()
                .map(|(class, (label_id, name, color))| LabelEntry {
                    class,
                    label_id: *label_id,
                    name: name.clone(),
                    color: color.clone(),
                })
                .collect(),
            input: InputSize { width, height },
            stride: STRIDE,
            max_detections: MAX_DETECTIONS,
        }
    }
}

/// The download's `README.md` for a detector called `name` (`project_id`, `detector_id`).
pub fn readme(name: &str, project_id: i64, detector_id: i64, map: &LabelMap) -> String {
    let classes = map
        .labels
        .iter()
        .map(|l| format!("{} `{}`", l.class, l.name))
        .collect::<Vec<_>>()
        .join(", ");
    let (w, h) = (map.input.width, map.input.height);
    README_TEMPLATE
        .replace("{name}", name)
        .replace("{project_id}", &project_id.to_string())
        .replace("{detector_id}", &detector_id.to_string())
        .replace("{classes}", &classes)
        .replace("{class_count}", &map.labels.len().to_string())
        .replace("{width}", &w.to_string())
        .replace("{height}", &h.to_string())
        .replace("{grid_w}", &(w / STRIDE).to_string())
        .replace("{grid_h}", &(h / STRIDE).to_string())
}

#[cfg(test)]
#[path = "export_tests.rs"]
mod tests;
