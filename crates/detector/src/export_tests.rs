//! The exported graph on a tiny synthetic backbone (two strided convolutions standing in for
//! EfficientNet-Lite0's trunk) and random heads, run by rten: its outputs equal
//! `Head::forward` on the features `Backbone` computes from the same image, and its decoding
//! equals `train::decode`.

use atelier_infer::{Runtime, RuntimeConfig, RuntimePreference};

use super::*;
use crate::synth::Rng;
use crate::train::{decode, features::Backbone};

const W: usize = 128;
const H: usize = 64;
const C8: usize = 2;
const C16: usize = 3;

fn runtime() -> Runtime {
    Runtime::auto(&RuntimeConfig {
        preference: RuntimePreference::Rten,
        intra_threads: 1,
        ..RuntimeConfig::default()
    })
    .expect("rten")
}

fn random(rng: &mut Rng, n: usize, scale: f64) -> Vec<f32> {
    (0..n).map(|_| rng.uniform(-scale, scale) as f32).collect()
}

/// input → Conv 8×8/8 (3→2) + Relu = stride8 → Conv 2×2/2 (2→3) = stride16.
fn tiny_backbone(rng: &mut Rng) -> Graph {
    let mut g = Graph {
        name: "tiny-trunk".into(),
        ..Graph::default()
    };
    g.initializers.push(Initializer::f32(
        "wa",
        &[C8, 3, 8, 8],
        &random(rng, C8 * 192, 0.1),
    ));
    g.initializers
        .push(Initializer::f32("ba", &[C8], &random(rng, C8, 0.5)));
    g.initializers.push(Initializer::f32(
        "wb",
        &[C16, C8, 2, 2],
        &random(rng, C16 * C8 * 4, 0.5),
    ));
    let conv = |k: i64| {
        vec![
            ("kernel_shape", Attr::Ints(vec![k, k])),
            ("strides", Attr::Ints(vec![k, k])),
            ("pads", Attr::Ints(vec![0, 0, 0, 0])),
        ]
    };
    let a = g.node("Conv", "a", &[INPUT_NAME, "wa", "ba"], conv(8));
    let a = g.node("Relu", "a_relu", &[&a], vec![]);
    let b = g.node("Conv", "b", &[&a, "wb"], conv(2));
    for (value, name, c) in [(a, BACKBONE_OUTPUTS[0], C8), (b, BACKBONE_OUTPUTS[1], C16)] {
        g.nodes.push(Node {
            name: format!("{name}_out"),
            op_type: "Identity".into(),
            inputs: vec![value],
            outputs: vec![name.into()],
            attrs: vec![],
        });
        g.outputs.push(ValueInfo {
            name: name.into(),
            dims: vec![
                Dim::Symbolic("batch".into()),
                Dim::Fixed(c as i64),
                Dim::Symbolic("h".into()),
                Dim::Symbolic("w".into()),
            ],
        });
    }
    g.inputs.push(ValueInfo {
        name: INPUT_NAME.into(),
        dims: vec![
            Dim::Symbolic("batch".into()),
            Dim::Fixed(3),
            Dim::Symbolic("height".into()),
            Dim::Symbolic("width".into()),
        ],
    });
    g
}

/// A random head reading the stride-8 cell, its stride-16 parent and the first `contexts`
/// context means of `CONTEXT_RADII`.
fn random_head(rng: &mut Rng, classes: usize, contexts: usize) -> Head {
    let dim = C8 + (1 + contexts) * C16;
    let mean = random(rng, dim, 0.5);
    let inv_std: Vec<f32> = (0..dim).map(|_| rng.uniform(0.5, 2.0) as f32).collect();
    let mut head = Head::new(dim, 5, classes, mean, inv_std, rng);
    head.w2.iter_mut().for_each(|w| *w *= 20.0);
    head.b2[..classes].iter_mut().for_each(|b| *b = 0.0);
    head
}

fn random_image(rng: &mut Rng, w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |_, _| {
        image::Rgb([
            rng.below(256) as u8,
            rng.below(256) as u8,
            rng.below(256) as u8,
        ])
    })
}

/// Writes `bytes` and loads them with rten.
fn load(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> Box<dyn Model> {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    runtime().load(&path).expect("loads")
}

fn close(a: f32, b: f32, what: &str) {
    assert!(
        (a - b).abs() <= 1e-5 * a.abs().max(b.abs()).max(1.0),
        "{what}: exported {a} vs atelier {b}"
    );
}

#[test]
fn the_exported_outputs_equal_the_head_on_the_backbone_features() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng::new(5);
    let trunk = tiny_backbone(&mut rng);
    let trunk_bytes = trunk.encode("test");
    // The last head reads the 3×3 context only (trained before the 5×5 mean existed).
    let cases = [
        (1usize, (64u32, 24u32), CONTEXT_RADII.len()),
        (3, (100, 40), CONTEXT_RADII.len()),
        (2, (30, 60), CONTEXT_RADII.len()),
        (2, (100, 40), 1),
    ];
    for (classes, (iw, ih), contexts) in cases {
        let head = random_head(&mut rng, classes, contexts);
        let exported = detector_onnx(&trunk_bytes, &head, W, H).expect("exports");
        let mut model = Exported::new(load(&dir, "det.onnx", &exported), W, H);
        let mut backbone =
            Backbone::new(load(&dir, "trunk.onnx", &trunk_bytes), W, H).expect("backbone");
        let image = random_image(&mut rng, iw, ih);
        let fm = backbone.features(&image).expect("features");
        let (out, scale) = model.outputs(&image).expect("runs");
        assert_eq!(scale, backbone.scale_for(iw, ih));
        let get = |n: &str| out.get(n).expect("output").clone();
        let (heat, peaks, size, offset) =
            (get("heatmap"), get("peaks"), get("size"), get("offset"));
        let (gw, gh) = (W / 8, H / 8);
        assert_eq!((fm.grid_w, fm.grid_h), (gw, gh));
        assert_eq!(heat.shape(), [1, classes, gh, gw]);
        assert_eq!(size.shape(), [1, 2, gh, gw]);
        let plane = gw * gh;
        let mut x = vec![0.0; head.dim];
        let mut hidden = vec![0.0; head.hidden];
        let mut logits = vec![0.0f32; plane * (classes + 4)];
        for cell in 0..plane {
            head.normalise(fm.cell(cell % gw, cell / gw), &mut x);
            head.forward(
                &x,
                &mut hidden,
                &mut logits[cell * (classes + 4)..(cell + 1) * (classes + 4)],
            );
        }
        let mut peaks_seen = 0;
        for cell in 0..plane {
            let o = &logits[cell * (classes + 4)..(cell + 1) * (classes + 4)];
            for (k, logit) in o[..classes].iter().enumerate() {
                let want = 1.0 / (1.0 + (-logit).exp());
                close(heat.data()[k * plane + cell], want, "heatmap");
                let p = peaks.data()[k * plane + cell];
                assert!(p == 0.0 || p == heat.data()[k * plane + cell]);
                peaks_seen += usize::from(p > 0.0);
            }
            close(size.data()[cell], o[classes].exp() * 8.0, "width");
            close(
                size.data()[plane + cell],
                o[classes + 1].exp() * 8.0,
                "height",
            );
            close(offset.data()[cell], o[classes + 2], "offset x");
            close(offset.data()[plane + cell], o[classes + 3], "offset y");
        }
        assert!(peaks_seen > 0, "some local maxima");

        // Decoding agrees with train::decode (then scaled back to the image).
        let want = to_image(
            decode(&head, &fm, 0.05, MAX_DETECTIONS),
            scale,
            image.width(),
            image.height(),
        );
        let got = model.detect(&image, 0.05).expect("detects");
        assert!(!want.is_empty(), "random heads find something");
        assert_eq!(got.len(), want.len(), "{got:?}\n{want:?}");
        for ((gk, gb, gs), (wk, wb, ws)) in got.iter().zip(&want) {
            assert_eq!(gk, wk);
            close(*gs, *ws, "score");
            for (a, b) in [
                (gb.xtl, wb.xtl),
                (gb.ytl, wb.ytl),
                (gb.xbr, wb.xbr),
                (gb.ybr, wb.ybr),
            ] {
                assert!((a - b).abs() < 1e-3, "{gb:?} vs {wb:?}");
            }
        }
    }
}

#[test]
fn the_input_fills_the_padding_with_the_mean_colour() {
    let mut rng = Rng::new(2);
    let image = random_image(&mut rng, 128, 16);
    let (t, scale) = input(&image, W, H).expect("input");
    assert_eq!(scale, 1.0);
    assert_eq!(t.shape(), [1, 3, H, W]);
    let plane = W * H;
    let p = image.get_pixel(3, 5);
    assert_eq!(t.data()[plane + 5 * W + 3], f32::from(p.0[1]) / 255.0);
    assert_eq!(t.data()[2 * plane + 20 * W + 40], MEAN[2]);
}

#[test]
fn heads_and_backbones_that_do_not_fit_are_refused() {
    let mut rng = Rng::new(9);
    let trunk = tiny_backbone(&mut rng);
    let head = random_head(&mut rng, 2, CONTEXT_RADII.len());
    assert!(matches!(
        detector_graph(
            trunk.clone(),
            &random_head(&mut rng, 2, CONTEXT_RADII.len() + 1),
            W,
            H
        ),
        Err(ExportError::Head(_))
    ));
    assert!(matches!(
        detector_graph(trunk.clone(), &random_head(&mut rng, 2, 0), W, H),
        Err(ExportError::Head(_))
    ));
    assert!(matches!(
        detector_graph(trunk.clone(), &head, 60, 32),
        Err(ExportError::Head(_))
    ));
    let mut wrong = head.clone();
    wrong.dim += 1;
    assert!(matches!(
        detector_graph(trunk.clone(), &wrong, W, H),
        Err(ExportError::Head(_))
    ));
    let mut no_s16 = trunk.clone();
    no_s16.outputs.pop();
    assert!(matches!(
        detector_graph(no_s16, &head, W, H),
        Err(ExportError::Backbone(_))
    ));
    assert!(matches!(
        detector_onnx(b"not onnx", &head, W, H),
        Err(ExportError::Backbone(_))
    ));
}

#[test]
fn the_readme_names_the_input_size_and_the_classes() {
    let map = LabelMap::new(
        &[
            (7, "car".into(), "#ff0000".into()),
            (9, "dog".into(), "#00ff00".into()),
        ],
        320,
        256,
    );
    let text = readme("Detector 1", 3, 9, &map);
    assert!(text.contains("`[1, 3, 256, 320]`"), "{text}");
    assert!(text.contains("`[1, C, 32, 40]`"), "{text}");
    assert!(text.contains("0 `car`, 1 `dog`"), "{text}");
    assert!(!text.contains('{'), "every placeholder filled: {text}");
    let json = serde_json::to_value(&map).expect("json");
    assert_eq!(json["labels"][1]["label_id"], 9);
    assert_eq!(json["input"]["width"], 320);
}
