//! The learned-depth wiring: a depth network registered in the model cache as the
//! `depth-estimation` task's default is loaded and used, and the result says so. The network
//! is a small one the test writes itself (no depth model ships in a reachable registry).

use atelier_imaging::DecodeLimits;
use atelier_infer::{
    InputSpec, Manifest, ModelEntry, RuntimePreference,
    convert::onnx::{Attr, Dim, Graph, Initializer, ValueInfo},
    manifest::{Artifact, model_dir},
};
use atelier_photo3d::{DepthSource, no_progress};

use super::{Photo3dParams, produce};
use crate::models::{DEPTH_TASK, Models, ModelsConfig};

const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// [1,3,32,32] normalised RGB in, [1,16,16] "disparity" (the brightness) out.
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
    g.initializers
        .push(Initializer::f32("w", &[1, 3, 1, 1], &weights));
    g.initializers.push(Initializer::f32(
        "b",
        &[1],
        &[MEAN.iter().sum::<f32>() / 3.0],
    ));
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
    g.encode("atelier-platform-test")
}

/// Registers the network in a model cache under `dir` as the default depth model.
fn register(dir: &std::path::Path) {
    let name = "brightness-depth";
    let folder = model_dir(dir, name);
    std::fs::create_dir_all(&folder).expect("model folder");
    let onnx = brightness_net();
    std::fs::write(folder.join("model.onnx"), &onnx).expect("write model");
    let entry = ModelEntry {
        name: name.into(),
        task: DEPTH_TASK.into(),
        format: "onnx".into(),
        default: true,
        description: "test depth network".into(),
        licence: String::new(),
        homepage: None,
        labels: "none".into(),
        input: InputSpec {
            name: None,
            height: 32,
            width: 32,
            resize_shorter: 32,
            interpolation: "bilinear-antialias".into(),
            mean: MEAN,
            std: STD,
            layout: "NCHW".into(),
            channels: "RGB".into(),
        },
        source: None,
        offline: None,
        convert: None,
        artifact: Artifact {
            file: "model.onnx".into(),
            sha256: crate::secrets::sha256_hex(&onnx),
        },
        imported: true,
    };
    let text = Manifest {
        models: vec![entry],
        cascades: None,
    }
    .to_toml()
    .expect("toml");
    std::fs::write(dir.join("models").join("imported.toml"), text).expect("write manifest");
}

#[tokio::test]
async fn a_cached_default_depth_model_is_loaded_once_and_named_in_the_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    register(dir.path());
    let models = Models::new(ModelsConfig {
        runtime: RuntimePreference::Rten,
        intra_threads: 1,
        cache_dir: dir.path().to_path_buf(),
        ..ModelsConfig::under(dir.path())
    });
    let shared = models
        .depth()
        .await
        .expect("loads")
        .expect("a depth model is registered");
    let again = models.depth().await.expect("loads").expect("still there");
    assert!(
        std::sync::Arc::ptr_eq(&shared, &again),
        "loaded once per process"
    );
    let mut model = shared.lock().expect("lock");
    // Brightness grows left to right: the right is "nearer".
    let photo = image::RgbImage::from_fn(64, 40, |x, _| {
        let v = (x * 255 / 63) as u8;
        image::Rgb([v, v, v])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    photo
        .write_to(&mut png, image::ImageFormat::Png)
        .expect("png");
    let params = Photo3dParams {
        duration: 0.25,
        fps: 4,
        formats: vec!["glb".into()],
        max_side: 64,
        ..Photo3dParams::for_upload("upl_x")
    };
    let produced = produce(
        png.get_ref(),
        None,
        &params,
        &DecodeLimits::default(),
        Some(&mut *model),
        &no_progress,
    )
    .expect("produced");
    assert_eq!(
        produced.depth_source,
        DepthSource::Learned {
            model: "brightness-depth".into()
        }
    );
    let preview = image::load_from_memory(&produced.files[1].bytes)
        .expect("depth preview")
        .to_luma8();
    assert!(preview.get_pixel(60, 20)[0] > preview.get_pixel(3, 20)[0] + 100);
}
