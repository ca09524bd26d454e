//! The learned-depth path, on a small ONNX depth network the test builds itself (no
//! monocular depth model ships in a package of the reachable registries; see the README).

use atelier_infer::convert::onnx::{Attr, Dim, Graph, Initializer, ValueInfo};
use atelier_infer::{Runtime, RuntimeConfig, RuntimePreference};
use atelier_photo3d::{DepthInput, DepthSource, LearnedDepth, LearnedDepthSpec, estimate_depth};
use image::RgbImage;

const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// A "depth network" in MiDaS's contract ([1,3,32,32] normalised RGB in, [1,16,16]
/// disparity out) whose disparity is the input's brightness: a 1×1 convolution that
/// undoes the normalisation and averages the channels, a 2×2 average pool (so the
/// output is smaller than the input, as in real networks), and a reshape.
fn brightness_net() -> Vec<u8> {
    let mut g = Graph {
        name: "brightness-depth".into(),
        ..Graph::default()
    };
    g.inputs.push(ValueInfo {
        name: "image".into(),
        dims: vec![Dim::Fixed(1), Dim::Fixed(3), Dim::Fixed(32), Dim::Fixed(32)],
    });
    let weights: Vec<f32> = STD.iter().map(|s| s / 3.0).collect();
    let bias = MEAN.iter().sum::<f32>() / 3.0;
    g.initializers
        .push(Initializer::f32("w", &[1, 3, 1, 1], &weights));
    g.initializers.push(Initializer::f32("b", &[1], &[bias]));
    g.initializers
        .push(Initializer::i64("shape", &[3], &[1, 16, 16]));
    let conv = g.node(
        "Conv",
        "conv",
        &["image", "w", "b"],
        vec![("kernel_shape", Attr::Ints(vec![1, 1]))],
    );
    let pool = g.node(
        "AveragePool",
        "pool",
        &[&conv],
        vec![
            ("kernel_shape", Attr::Ints(vec![2, 2])),
            ("strides", Attr::Ints(vec![2, 2])),
        ],
    );
    let out = g.node("Reshape", "depth", &[&pool, "shape"], vec![]);
    g.outputs.push(ValueInfo {
        name: out,
        dims: vec![Dim::Fixed(1), Dim::Fixed(16), Dim::Fixed(16)],
    });
    g.encode("atelier-photo3d-test")
}

#[test]
fn a_learned_depth_network_runs_through_infer_and_its_map_is_resized_to_the_photo() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("brightness-depth.onnx");
    std::fs::write(&path, brightness_net()).unwrap();
    let runtime = Runtime::auto(&RuntimeConfig {
        preference: RuntimePreference::Rten,
        intra_threads: 1,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let model = runtime.load(&path).unwrap();
    let spec = LearnedDepthSpec {
        name: "brightness-depth".into(),
        input_width: 32,
        input_height: 32,
        refine_radius: 0,
        ..LearnedDepthSpec::midas_v21_small("brightness-depth")
    };
    let depth = LearnedDepth::new(model, spec).unwrap();
    // Brightness grows left to right: "nearer" to the right.
    let photo = RgbImage::from_fn(80, 48, |x, _| {
        let v = (x * 255 / 79) as u8;
        image::Rgb([v, v, v])
    });
    let estimate = estimate_depth(&photo, DepthInput::Learned(&depth)).unwrap();
    assert_eq!(
        estimate.source,
        DepthSource::Learned {
            model: "brightness-depth".into()
        }
    );
    let map = estimate.map.plane();
    assert_eq!((map.width(), map.height()), (80, 48));
    for x in 0..80 {
        let expected = x as f32 / 79.0;
        let got = map.at(x, 24);
        // Down to 32 px, pooled to 16, and back up: a few percent off at most.
        assert!((got - expected).abs() < 0.06, "x={x}: {got} vs {expected}");
    }
    assert!(map.at(79, 0) > map.at(0, 47));
}

#[test]
fn a_network_with_an_unexpected_output_shape_is_a_model_error() {
    let mut g = Graph {
        name: "bad".into(),
        ..Graph::default()
    };
    g.inputs.push(ValueInfo {
        name: "image".into(),
        dims: vec![Dim::Fixed(1), Dim::Fixed(3), Dim::Fixed(8), Dim::Fixed(8)],
    });
    let out = g.node("Relu", "relu", &["image"], vec![]);
    g.outputs.push(ValueInfo {
        name: out,
        dims: vec![Dim::Fixed(1), Dim::Fixed(3), Dim::Fixed(8), Dim::Fixed(8)],
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.onnx");
    std::fs::write(&path, g.encode("test")).unwrap();
    let runtime = Runtime::auto(&RuntimeConfig {
        preference: RuntimePreference::Rten,
        intra_threads: 1,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let spec = LearnedDepthSpec {
        input_width: 8,
        input_height: 8,
        ..LearnedDepthSpec::midas_v21_small("bad")
    };
    let depth = LearnedDepth::new(runtime.load(&path).unwrap(), spec).unwrap();
    let err = estimate_depth(&RgbImage::new(10, 10), DepthInput::Learned(&depth)).unwrap_err();
    assert!(
        matches!(err, atelier_photo3d::Photo3dError::Model(_)),
        "{err}"
    );
}
