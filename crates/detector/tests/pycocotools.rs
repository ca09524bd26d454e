//! The evaluation equals pycocotools' on the same ground truth and detections (synthetic images,
//! jittered and spurious detections, tied scores, missed objects, an unused label).
//!
//! Needs python3 with pycocotools and numpy; without them the test is skipped with a message,
//! unless `ATELIER_REQUIRE_PARITY=1` (CI), where it fails.

use std::process::Command;

use atelier_detector::eval::{Detection, GroundTruth, evaluate};
use atelier_detector::formats::coco;
use atelier_detector::synth::{self, Rng, SynthParams};
use atelier_detector::{Annotations, BBox, Frame, Shape};

fn python_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import pycocotools.cocoeval, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("ATELIER_REQUIRE_PARITY").as_deref() == Ok("1") {
            panic!(
                "ATELIER_REQUIRE_PARITY=1 but python3 with pycocotools is missing (pip install pycocotools)"
            );
        }
        eprintln!(
            "SKIPPED pycocotools parity: python3 + pycocotools missing (set ATELIER_REQUIRE_PARITY=1 to make this fatal)"
        );
    }
    ok
}

fn near(a: Option<f64>, b: Option<f64>, what: &str) {
    match (a, b) {
        (Some(a), Some(b)) => assert!(
            (a - b).abs() <= 1e-6,
            "{what}: atelier {a} vs pycocotools {b}"
        ),
        (None, None) => {}
        _ => panic!("{what}: atelier {a:?} vs pycocotools {b:?}"),
    }
}

#[test]
fn metrics_equal_pycocotools_on_the_same_detections() {
    if !python_ready() {
        return;
    }
    // Ground truth: 12 synthetic images with 1–5 objects each, 4 classes + one unused label.
    let mut labels = synth::labels();
    labels.push(atelier_detector::Label::new("unused", "#123456"));
    let mut frames = Vec::new();
    let mut gt = Vec::new();
    for i in 0..12u64 {
        let p = SynthParams {
            objects: 1 + (i as usize % 5),
            seed: 100 + i,
            ..SynthParams::default()
        };
        let (_, objects) = synth::image(&p);
        frames.push(Frame {
            name: format!("img_{i}.png"),
            width: p.width,
            height: p.height,
        });
        for o in objects {
            gt.push(GroundTruth {
                image: i + 1,
                label: o.class,
                bbox: o.bbox,
            });
        }
    }
    let mut doc = Annotations::new("parity", labels.clone(), frames).expect("doc");
    for (n, g) in gt.iter().enumerate() {
        let id = n as u64 + 1;
        let shape = Shape {
            id,
            label: labels[g.label].name.clone(),
            frame: (g.image - 1) as u32,
            bbox: g.bbox,
            occluded: false,
            z_order: 0,
            source: "manual".into(),
            attributes: Default::default(),
        };
        doc.shapes.insert(id, shape);
    }
    doc.validate().expect("valid");

    // Detections: most objects found with jitter of varying size (so IoUs span the thresholds),
    // some missed, duplicates, spurious boxes, wrong classes, and tied scores.
    let mut rng = Rng::new(7);
    let mut dets = Vec::new();
    for g in &gt {
        if rng.uniform(0.0, 1.0) < 0.15 {
            continue;
        }
        let jitter = rng.uniform(0.0, 0.25);
        let (w, h) = (g.bbox.width(), g.bbox.height());
        let mut j = || rng.uniform(-jitter, jitter);
        let b = BBox::new(
            g.bbox.xtl + j() * w,
            g.bbox.ytl + j() * h,
            g.bbox.xbr + j() * w,
            g.bbox.ybr + j() * h,
        );
        let score = (rng.uniform(0.3, 1.0) * 20.0).round() / 20.0; // ties on purpose
        let label = if rng.uniform(0.0, 1.0) < 0.1 {
            (g.label + 1) % 4
        } else {
            g.label
        };
        dets.push(Detection {
            image: g.image,
            label,
            bbox: b,
            score,
        });
        if rng.uniform(0.0, 1.0) < 0.2 {
            dets.push(Detection {
                score: score * 0.5,
                ..dets[dets.len() - 1]
            });
        }
    }
    for _ in 0..15 {
        let x = rng.uniform(0.0, 250.0);
        let y = rng.uniform(0.0, 180.0);
        dets.push(Detection {
            image: 1 + rng.below(12) as u64,
            label: rng.below(4),
            bbox: BBox::new(
                x,
                y,
                x + rng.uniform(10.0, 60.0),
                y + rng.uniform(10.0, 50.0),
            ),
            score: (rng.uniform(0.0, 0.9) * 20.0).round() / 20.0,
        });
    }
    let images: Vec<u64> = (1..=12).collect();
    let ours = evaluate(&images, labels.len(), &gt, &dets).expect("evaluate");

    let dir = tempfile::tempdir().expect("tempdir");
    let gt_path = dir.path().join("gt.json");
    let dt_path = dir.path().join("dt.json");
    std::fs::write(&gt_path, coco::write(&doc)).expect("write gt");
    let dt_json: Vec<serde_json::Value> = dets
        .iter()
        .map(|d| {
            serde_json::json!({
                "image_id": d.image,
                "category_id": d.label + 1,
                "bbox": [d.bbox.xtl, d.bbox.ytl, d.bbox.xbr - d.bbox.xtl, d.bbox.ybr - d.bbox.ytl],
                "score": d.score,
            })
        })
        .collect();
    std::fs::write(&dt_path, serde_json::to_string(&dt_json).expect("json")).expect("write dt");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/coco_eval.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&gt_path)
        .arg(&dt_path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("json from the script");

    let f = |v: &serde_json::Value| v.as_f64();
    near(ours.map, f(&theirs["map"]), "mAP@[.5:.95]");
    near(ours.map50, f(&theirs["map50"]), "mAP@0.5");
    near(ours.map75, f(&theirs["map75"]), "mAP@0.75");
    assert!(
        ours.map50.is_some_and(|m| m > 0.3 && m < 0.99),
        "a non-trivial case: {:?}",
        ours.map50
    );
    let theirs_labels = theirs["labels"].as_array().expect("labels");
    assert_eq!(theirs_labels.len(), ours.labels.len());
    for (o, t) in ours.labels.iter().zip(theirs_labels) {
        let what = format!("label {}", o.label);
        near(o.ap, f(&t["ap"]), &format!("{what} AP"));
        near(o.ap50, f(&t["ap50"]), &format!("{what} AP50"));
        near(o.ap75, f(&t["ap75"]), &format!("{what} AP75"));
        near(o.recall50, f(&t["recall50"]), &format!("{what} recall"));
        let curve: Vec<f64> = t["precision50"]
            .as_array()
            .expect("curve")
            .iter()
            .filter_map(|v| v.as_f64())
            .collect();
        assert_eq!(curve.len(), o.precision50.len(), "{what} curve length");
        for (r, (a, b)) in o.precision50.iter().zip(&curve).enumerate() {
            assert!(
                (a - b).abs() <= 1e-6,
                "{what} precision at recall {r}: {a} vs {b}"
            );
        }
    }
    assert_eq!(ours.labels[4].ap, None, "the unused label has no AP");
}
