//! An LBP cascade trained on synthetic data (one class, `disc`) finds that object in held-out
//! synthetic images, and OpenCV's `CascadeClassifier::detectMultiScale` on the written XML gives
//! exactly `atelier_haar`'s boxes.
//!
//! The OpenCV half needs python3 with `opencv-python-headless`; without it that test is skipped
//! with a message, unless `ATELIER_REQUIRE_PARITY=1` (CI), where it fails.

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use atelier_detector::BBox;
use atelier_detector::cascade_train::{
    CascadeParams, GrayFrame, StopReason, TrainedCascade, TrainingFrame, match_detections, train,
};
use atelier_detector::synth::{self, SynthParams};
use atelier_haar::{Cascade, DetectParams, GrayImage, Rect, Size};

const DISC: usize = 0;

fn frame(seed: u64) -> TrainingFrame {
    let (img, objects) = synth::image(&SynthParams {
        objects: 4,
        seed,
        ..SynthParams::default()
    });
    let discs = objects.iter().filter(|o| o.class == DISC);
    TrainingFrame {
        image: GrayFrame::from_rgb(&img).expect("gray"),
        positives: discs
            .clone()
            .filter(|o| !o.occluded)
            .map(|o| o.bbox)
            .collect(),
        ignore: discs.filter(|o| o.occluded).map(|o| o.bbox).collect(),
    }
}

/// One training shared by the tests of this binary (about 5 s on 2 busy cores).
fn trained() -> &'static (TrainedCascade, Cascade) {
    static TRAINED: OnceLock<(TrainedCascade, Cascade)> = OnceLock::new();
    TRAINED.get_or_init(|| {
        let frames: Vec<TrainingFrame> = (0..120).map(|i| frame(5000 + i)).collect();
        let params = CascadeParams {
            stages: 10,
            negatives: 400,
            max_weak_count: 30,
            time_budget: Duration::from_secs(40),
            ..CascadeParams::default()
        };
        let cascade =
            train(&frames, &params, &mut atelier_detector::no_progress()).expect("trains");
        let read = Cascade::from_xml(&cascade.to_xml()).expect("atelier_haar reads the XML");
        (cascade, read)
    })
}

fn held_out() -> Vec<TrainingFrame> {
    (0..20).map(|i| frame(90_000 + i)).collect()
}

fn detect(c: &Cascade, f: &GrayFrame, params: &DetectParams) -> Vec<Rect> {
    let img = GrayImage::packed(&f.pixels, f.width, f.height).expect("image");
    c.detect_multi_scale(&img, params).expect("detect")
}

fn as_bbox(r: &Rect) -> BBox {
    BBox::from_xywh(
        f64::from(r.x),
        f64::from(r.y),
        f64::from(r.width),
        f64::from(r.height),
    )
}

#[test]
fn the_trained_cascade_finds_discs_in_held_out_images() {
    let (cascade, read) = trained();
    let r = &cascade.report;
    assert!(r.stages.len() >= 6, "{r:?}");
    assert_ne!(r.stop, StopReason::TimeBudget, "{r:?}");
    assert_eq!(read.stage_count(), cascade.stages.len());
    for s in &r.stages {
        assert!(s.hit_rate >= 0.995 && s.false_alarm <= 0.5, "{s:?}");
    }
    let params = DetectParams {
        min_size: Size::new(24, 24),
        ..DetectParams::default()
    };
    let (mut truth, mut found, mut false_positives) = (0, 0, 0);
    for f in held_out() {
        let boxes: Vec<BBox> = detect(read, &f.image, &params)
            .iter()
            .map(as_bbox)
            .collect();
        let (m, fp) = match_detections(&f.positives, &f.ignore, &boxes);
        truth += f.positives.len();
        found += m;
        false_positives += fp;
    }
    eprintln!(
        "held-out: {found}/{truth} discs found at IoU >= 0.5, {false_positives} false positives on 20 images; training {:.1} s, {} stages",
        r.seconds,
        r.stages.len()
    );
    assert!(truth >= 10, "the held-out set needs discs");
    assert!(found * 10 >= truth * 7, "{found}/{truth}");
    assert!(false_positives <= 3 * 20, "{false_positives}");
}

fn opencv_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import cv2"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("ATELIER_REQUIRE_PARITY").as_deref() == Ok("1") {
            panic!(
                "ATELIER_REQUIRE_PARITY=1 but python3 with cv2 is missing (pip install opencv-python-headless)"
            );
        }
        eprintln!(
            "SKIPPED OpenCV parity: python3 + cv2 missing (set ATELIER_REQUIRE_PARITY=1 to make this fatal)"
        );
    }
    ok
}

#[test]
fn opencv_finds_exactly_atelier_haars_boxes_with_the_trained_xml() {
    if !opencv_ready() {
        return;
    }
    let (cascade, read) = trained();
    let dir = tempfile::tempdir().expect("tempdir");
    let xml = dir.path().join("disc.xml");
    std::fs::write(&xml, cascade.to_xml()).expect("write xml");
    let settings = [
        (1.1, 3, Size::new(24, 24)),
        (1.05, 0, Size::new(0, 0)),
        (1.3, 1, Size::new(30, 30)),
    ];
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    for (i, f) in held_out().iter().take(8).enumerate() {
        let path = dir.path().join(format!("held-out-{i}.png"));
        image::GrayImage::from_raw(f.image.width, f.image.height, f.image.pixels.clone())
            .expect("image")
            .save(&path)
            .expect("png");
        for &(scale_factor, min_neighbors, min_size) in &settings {
            cases.push(serde_json::json!({
                "image": path,
                "scale_factor": scale_factor,
                "min_neighbors": min_neighbors,
                "min_size": [min_size.width, min_size.height],
            }));
            let params = DetectParams {
                scale_factor,
                min_neighbors,
                min_size,
                ..DetectParams::default()
            };
            ours.push(
                detect(read, &f.image, &params)
                    .iter()
                    .map(|r| [r.x, r.y, r.width, r.height])
                    .collect::<Vec<_>>(),
            );
        }
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/cascade_detect.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .arg(&xml)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    serde_json::to_writer(child.stdin.take().expect("stdin"), &cases).expect("cases");
    let out = child.wait_with_output().expect("python3 runs");
    assert!(out.status.success(), "cascade_detect.py failed");
    let theirs: Vec<Vec<[i32; 4]>> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(theirs.len(), ours.len());
    let boxes: usize = ours.iter().map(Vec::len).sum();
    assert!(boxes > 0, "the comparison needs some boxes");
    for (k, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(a, b, "case {k} ({:?})", cases[k]);
    }
    eprintln!(
        "OpenCV parity: {} cases, {boxes} boxes, all identical",
        ours.len()
    );
}
