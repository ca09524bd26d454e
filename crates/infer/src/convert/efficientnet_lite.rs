//! EfficientNet-Lite as an ONNX graph, from the `state_dict` of the
//! `efficientnet-lite-pytorch` package (lukemelas' EfficientNet-PyTorch layout).
//!
//! The architecture mirrors that package's `EfficientNet.from_name("efficientnet-liteN")`:
//! TensorFlow-style "same" padding computed statically for the model's image size
//! (asymmetric: the extra pixel goes bottom/right), ReLU6 everywhere, no
//! squeeze-and-excitation, stem (32) and head (1280) not scaled, the first and last
//! stage not repeated more, BatchNorm (eps 1e-3) folded into the preceding
//! convolution, global average pooling, then the linear classifier.

use super::ConvertError;
use super::onnx::{Attr, Dim, Graph, Initializer, ValueInfo};
use super::torch::StateDict;

/// The name of the emitted model's input (`[batch, 3, size, size]`, normalised RGB).
pub const INPUT_NAME: &str = "input";
/// The name of the emitted model's output (`[batch, classes]`, logits).
pub const OUTPUT_NAME: &str = "logits";
const BN_EPS: f64 = 1e-3;

/// One EfficientNet-Lite variant's coefficients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Variant {
    /// Width multiplier.
    pub width: f64,
    /// Depth multiplier.
    pub depth: f64,
    /// Input resolution.
    pub image_size: usize,
}

impl Variant {
    /// `efficientnet-lite0` … `efficientnet-lite4`, as in the package's `efficientnet_params`.
    pub fn by_name(name: &str) -> Result<Self, ConvertError> {
        let (width, depth, image_size) = match name {
            "efficientnet-lite0" => (1.0, 1.0, 224),
            "efficientnet-lite1" => (1.0, 1.1, 240),
            "efficientnet-lite2" => (1.1, 1.2, 260),
            "efficientnet-lite3" => (1.2, 1.4, 280),
            "efficientnet-lite4" => (1.4, 1.8, 300),
            other => return Err(ConvertError::UnknownArchitecture(other.to_string())),
        };
        Ok(Self {
            width,
            depth,
            image_size,
        })
    }
}

/// `(repeats, kernel, stride, expand, in, out)` of the seven stages (`r1_k3_s11_e1_i32_o16`, …).
const STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
];

fn round_filters(filters: usize, width: f64) -> usize {
    let divisor = 8.0;
    let f = filters as f64 * width;
    let mut new = (((f + divisor / 2.0) as usize) / 8 * 8).max(8) as f64;
    if new < 0.9 * f {
        new += divisor;
    }
    new as usize
}

/// TensorFlow "same" padding for a static input size: `[top, left, bottom, right]`.
fn same_pads(size: usize, kernel: usize, stride: usize) -> Vec<i64> {
    let out = size.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(size) as i64;
    vec![total / 2, total / 2, total - total / 2, total - total / 2]
}

struct Builder<'a> {
    dict: &'a StateDict,
    graph: Graph,
    clip_min: String,
    clip_max: String,
}

impl Builder<'_> {
    /// Conv (no bias) + BatchNorm, folded into one Conv with bias.
    fn conv_bn(
        &mut self,
        x: &str,
        conv: &str,
        bn: &str,
        stride: usize,
        groups: usize,
        pads: Vec<i64>,
    ) -> Result<String, ConvertError> {
        let w = self.dict.get(&format!("{conv}.weight"))?;
        let [out_c, _, kh, kw] = w.shape[..] else {
            return Err(ConvertError::Shape(format!("{conv}.weight is not 4-D")));
        };
        let gamma = self.vector(&format!("{bn}.weight"), out_c)?;
        let beta = self.vector(&format!("{bn}.bias"), out_c)?;
        let mean = self.vector(&format!("{bn}.running_mean"), out_c)?;
        let var = self.vector(&format!("{bn}.running_var"), out_c)?;
        let per_out = w.data.len() / out_c;
        let mut weight = Vec::with_capacity(w.data.len());
        let mut bias = Vec::with_capacity(out_c);
        for c in 0..out_c {
            let scale = f64::from(gamma[c]) / (f64::from(var[c]) + BN_EPS).sqrt();
            weight.extend(
                w.data[c * per_out..(c + 1) * per_out]
                    .iter()
                    .map(|&v| (f64::from(v) * scale) as f32),
            );
            bias.push((f64::from(beta[c]) - f64::from(mean[c]) * scale) as f32);
        }
        let wname = format!("{conv}.weight_folded");
        let bname = format!("{conv}.bias_folded");
        self.graph
            .initializers
            .push(Initializer::f32(&wname, &w.shape, &weight));
        self.graph
            .initializers
            .push(Initializer::f32(&bname, &[out_c], &bias));
        Ok(self.graph.node(
            "Conv",
            conv,
            &[x, &wname, &bname],
            vec![
                ("group", Attr::Int(groups as i64)),
                ("kernel_shape", Attr::Ints(vec![kh as i64, kw as i64])),
                ("pads", Attr::Ints(pads)),
                ("strides", Attr::Ints(vec![stride as i64, stride as i64])),
            ],
        ))
    }

    fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>, ConvertError> {
        let t = self.dict.get(name)?;
        if t.data.len() != len {
            return Err(ConvertError::Shape(format!(
                "{name} has {} values, expected {len}",
                t.data.len()
            )));
        }
        Ok(t.data.clone())
    }

    fn relu6(&mut self, x: &str, name: &str) -> String {
        let (lo, hi) = (self.clip_min.clone(), self.clip_max.clone());
        self.graph.node("Clip", name, &[x, &lo, &hi], vec![])
    }
}

/// Names of the backbone graph's outputs: stride-8 (40 channels for Lite0) and stride-16 (112)
/// feature maps, the ends of the third and fifth stages.
pub const BACKBONE_OUTPUTS: [&str; 2] = ["stride8", "stride16"];

/// The last stage the backbone keeps (the fifth: stride 16).
const BACKBONE_LAST_STAGE: usize = 4;

/// Builds the ONNX graph of an EfficientNet-Lite variant from its state dict.
pub fn build(dict: &StateDict, variant_name: &str) -> Result<Graph, ConvertError> {
    build_graph(dict, variant_name, false)
}

/// Builds the variant's convolutional trunk up to stride 16, without the head: input
/// `[batch, 3, height, width]` (any sizes that are multiples of 32, for which the static "same"
/// padding computed at the model's own size is the same), outputs [`BACKBONE_OUTPUTS`]. The
/// detector studio trains its head on these features.
pub fn build_backbone(dict: &StateDict, variant_name: &str) -> Result<Graph, ConvertError> {
    build_graph(dict, variant_name, true)
}

fn build_graph(
    dict: &StateDict,
    variant_name: &str,
    backbone: bool,
) -> Result<Graph, ConvertError> {
    let variant = Variant::by_name(variant_name)?;
    let mut b = Builder {
        dict,
        graph: Graph {
            name: variant_name.to_string(),
            ..Graph::default()
        },
        clip_min: "relu6_min".into(),
        clip_max: "relu6_max".into(),
    };
    b.graph
        .initializers
        .push(Initializer::f32("relu6_min", &[], &[0.0]));
    b.graph
        .initializers
        .push(Initializer::f32("relu6_max", &[], &[6.0]));

    let mut size = variant.image_size;
    let stem = b.conv_bn(
        INPUT_NAME,
        "_conv_stem",
        "_bn0",
        2,
        1,
        same_pads(size, 3, 2),
    )?;
    let mut x = b.relu6(&stem, "_stem_relu6");
    size = size.div_ceil(2);

    let mut index = 0;
    let last_stage = STAGES.len() - 1;
    for (stage, &(repeats, kernel, stride, expand, input, output)) in STAGES.iter().enumerate() {
        // fix_head_stem: the first and last stage keep their repeats; the first keeps 32 in.
        let fixed = stage == 0 || stage == last_stage;
        let repeats = if fixed {
            repeats
        } else {
            (variant.depth * repeats as f64).ceil() as usize
        };
        let mut in_f = if stage == 0 {
            32
        } else {
            round_filters(input, variant.width)
        };
        let out_f = round_filters(output, variant.width);
        for r in 0..repeats {
            let s = if r == 0 { stride } else { 1 };
            let p = format!("_blocks.{index}");
            let block_in = x.clone();
            let mut y = x.clone();
            if expand != 1 {
                y = b.conv_bn(
                    &y,
                    &format!("{p}._expand_conv"),
                    &format!("{p}._bn0"),
                    1,
                    1,
                    vec![0; 4],
                )?;
                y = b.relu6(&y, &format!("{p}._expand_relu6"));
            }
            let mid = in_f * expand;
            y = b.conv_bn(
                &y,
                &format!("{p}._depthwise_conv"),
                &format!("{p}._bn1"),
                s,
                mid,
                same_pads(size, kernel, s),
            )?;
            y = b.relu6(&y, &format!("{p}._depthwise_relu6"));
            size = size.div_ceil(s);
            y = b.conv_bn(
                &y,
                &format!("{p}._project_conv"),
                &format!("{p}._bn2"),
                1,
                1,
                vec![0; 4],
            )?;
            if s == 1 && in_f == out_f {
                y = b
                    .graph
                    .node("Add", &format!("{p}._skip"), &[&y, &block_in], vec![]);
            }
            x = y;
            in_f = out_f;
            index += 1;
        }
        if backbone && (stage == 2 || stage == BACKBONE_LAST_STAGE) {
            let (name, channels) = if stage == 2 {
                (BACKBONE_OUTPUTS[0], out_f)
            } else {
                (BACKBONE_OUTPUTS[1], out_f)
            };
            b.graph.nodes.push(super::onnx::Node {
                name: format!("{name}_out"),
                op_type: "Identity".into(),
                inputs: vec![x.clone()],
                outputs: vec![name.into()],
                attrs: vec![],
            });
            b.graph.outputs.push(ValueInfo {
                name: name.into(),
                dims: vec![
                    Dim::Symbolic("batch".into()),
                    Dim::Fixed(channels as i64),
                    Dim::Symbolic(format!("{name}_height")),
                    Dim::Symbolic(format!("{name}_width")),
                ],
            });
            if stage == BACKBONE_LAST_STAGE {
                b.graph.inputs.push(ValueInfo {
                    name: INPUT_NAME.into(),
                    dims: vec![
                        Dim::Symbolic("batch".into()),
                        Dim::Fixed(3),
                        Dim::Symbolic("height".into()),
                        Dim::Symbolic("width".into()),
                    ],
                });
                return Ok(b.graph);
            }
        }
    }
    if dict.contains(&format!("_blocks.{index}._project_conv.weight")) {
        return Err(ConvertError::Shape(format!(
            "the state dict has more blocks than {variant_name} ({index})"
        )));
    }

    let head = b.conv_bn(&x, "_conv_head", "_bn1", 1, 1, vec![0; 4])?;
    let head = b.relu6(&head, "_head_relu6");
    let pooled = b
        .graph
        .node("GlobalAveragePool", "_avg_pooling", &[&head], vec![]);
    let flat = b.graph.node(
        "Flatten",
        "_flatten",
        &[&pooled],
        vec![("axis", Attr::Int(1))],
    );
    let fc_w = dict.get("_fc.weight")?;
    let [classes, _] = fc_w.shape[..] else {
        return Err(ConvertError::Shape("_fc.weight is not 2-D".into()));
    };
    let fc_b = b.vector("_fc.bias", classes)?;
    b.graph
        .initializers
        .push(Initializer::f32("_fc.weight", &fc_w.shape, &fc_w.data));
    b.graph
        .initializers
        .push(Initializer::f32("_fc.bias", &[classes], &fc_b));
    let logits = b.graph.node(
        "Gemm",
        "_fc",
        &[&flat, "_fc.weight", "_fc.bias"],
        vec![("transB", Attr::Int(1))],
    );
    b.graph.nodes.push(super::onnx::Node {
        name: "output".into(),
        op_type: "Identity".into(),
        inputs: vec![logits],
        outputs: vec![OUTPUT_NAME.into()],
        attrs: vec![],
    });
    let n = variant.image_size as i64;
    b.graph.inputs.push(ValueInfo {
        name: INPUT_NAME.into(),
        dims: vec![
            Dim::Symbolic("batch".into()),
            Dim::Fixed(3),
            Dim::Fixed(n),
            Dim::Fixed(n),
        ],
    });
    b.graph.outputs.push(ValueInfo {
        name: OUTPUT_NAME.into(),
        dims: vec![Dim::Symbolic("batch".into()), Dim::Fixed(classes as i64)],
    });
    Ok(b.graph)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_puts_the_odd_pixel_bottom_right_as_tensorflow_does() {
        assert_eq!(same_pads(224, 3, 2), vec![0, 0, 1, 1]);
        assert_eq!(same_pads(56, 5, 2), vec![1, 1, 2, 2]);
        assert_eq!(same_pads(14, 5, 1), vec![2, 2, 2, 2]);
        assert_eq!(same_pads(7, 1, 1), vec![0, 0, 0, 0]);
    }

    #[test]
    fn filters_round_to_multiples_of_eight_like_the_package() {
        assert_eq!(round_filters(32, 1.0), 32);
        assert_eq!(round_filters(40, 1.1), 48);
        assert_eq!(round_filters(24, 1.4), 32);
        assert_eq!(round_filters(112, 1.2), 136);
    }

    #[test]
    fn an_unknown_variant_is_an_error() {
        assert!(matches!(
            Variant::by_name("efficientnet-b9"),
            Err(ConvertError::UnknownArchitecture(_))
        ));
    }
}
