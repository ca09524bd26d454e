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

/// A models service whose cache (under `dir`) holds the test network as the default depth model.
fn models_with_depth_network(dir: &std::path::Path) -> Models {
    register(dir);
    Models::new(ModelsConfig {
        runtime: RuntimePreference::Rten,
        intra_threads: 1,
        cache_dir: dir.to_path_buf(),
        ..ModelsConfig::under(dir)
    })
}

/// `photo` as PNG bytes.
fn png(photo: &image::RgbImage) -> Vec<u8> {
    let mut png = std::io::Cursor::new(Vec::new());
    photo
        .write_to(&mut png, image::ImageFormat::Png)
        .expect("png");
    png.into_inner()
}

/// A quarter-second, 64-px 3D photo in `format`.
fn quick_params(format: &str) -> Photo3dParams {
    Photo3dParams {
        duration: 0.25,
        fps: 4,
        formats: vec![format.into()],
        max_side: 64,
        ..Photo3dParams::for_upload("upl_x")
    }
}

#[tokio::test]
async fn a_cached_default_depth_model_is_loaded_once_and_named_in_the_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let models = models_with_depth_network(dir.path());
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
    // Brightness grows left to right: the right is "nearer".
    let photo = image::RgbImage::from_fn(64, 40, |x, _| {
        let v = (x * 255 / 63) as u8;
        image::Rgb([v, v, v])
    });
    let params = quick_params("glb");
    let produced = produce(
        &png(&photo),
        None,
        &params,
        &DecodeLimits::default(),
        Some(&shared),
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

/// The loaded network is shared by jobs running at once: one job rendering does not hold it
/// (before, a job held the model for its whole run, so every 3D photo of a process ran one at
/// a time whenever a depth model was installed). Job A stops in its render stage until job B,
/// using the same model, has finished its depth stage; with the model held for A's whole run,
/// B could not start its depth and A would wait out the timeout.
#[tokio::test]
async fn jobs_sharing_the_depth_model_overlap() {
    use std::sync::mpsc;
    use std::time::Duration;

    use atelier_photo3d::Stage;

    let dir = tempfile::tempdir().expect("tempdir");
    let shared = models_with_depth_network(dir.path())
        .depth()
        .await
        .expect("loads")
        .expect("a depth model is registered");
    let photo = image::RgbImage::from_fn(64, 40, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 6) as u8, 90])
    });
    let png = png(&photo);
    let params = quick_params("mp4");
    // One 3D photo of `png` on the shared model, reporting to `report`.
    let run = |report: atelier_photo3d::Progress<'_>| {
        produce(
            &png,
            None,
            &params,
            &DecodeLimits::default(),
            Some(&shared),
            report,
        )
    };
    let (depth_done, b_past_depth) = mpsc::channel::<()>();
    let b_past_depth = std::sync::Mutex::new(b_past_depth);
    let (a_rendering, a_in_render) = mpsc::channel::<()>();
    let a_rendering = std::sync::Mutex::new(a_rendering);
    std::thread::scope(|scope| {
        let a = scope.spawn(|| {
            let waited = std::sync::OnceLock::new();
            let report = |stage: Stage, _f: f32| {
                if stage == Stage::Render {
                    waited.get_or_init(|| {
                        a_rendering
                            .lock()
                            .expect("lock")
                            .send(())
                            .expect("test alive");
                        let past = b_past_depth.lock().expect("lock");
                        past.recv_timeout(Duration::from_secs(20)).is_ok()
                    });
                }
                true
            };
            let produced = run(&report);
            (produced.map(|p| p.depth_source), waited.get().copied())
        });
        a_in_render
            .recv_timeout(Duration::from_secs(20))
            .expect("A reaches its render stage");
        let report = |stage: Stage, _f: f32| {
            if stage != Stage::Depth {
                let _ = depth_done.send(());
            }
            true
        };
        let b = run(&report).expect("B produced");
        let (a_source, a_waited) = a.join().expect("A did not panic");
        assert_eq!(
            a_waited,
            Some(true),
            "B ran its depth stage while A was rendering"
        );
        let learned = DepthSource::Learned {
            model: "brightness-depth".into(),
        };
        assert_eq!(a_source.expect("A produced"), learned);
        assert_eq!(b.depth_source, learned);
    });
}
