//! `atelier train-cascade`: the built binary trains an LBP cascade for one label from a COCO
//! file and its images (synthetic, made here), writes OpenCV cascade XML, and
//! `atelier detect --cascade OUT.xml` then finds that object in a held-out image. An unknown
//! label is refused with the labels named, and a non-zero exit.

use std::path::Path;
use std::process::Command;

use atelier_detector::formats::coco;
use atelier_detector::synth::{self, SynthParams};
use atelier_detector::{Annotations, BBox, Frame, Shape};
use serde_json::Value;

use crate::helpers::binary;

fn synth_image(seed: u64) -> (image::RgbImage, Vec<synth::SynthObject>) {
    synth::image(&SynthParams {
        objects: 4,
        seed,
        ..SynthParams::default()
    })
}

/// 100 synthetic images as PNGs under `dir/images` and their boxes as COCO JSON.
fn dataset(dir: &Path) -> std::path::PathBuf {
    let images = dir.join("images");
    std::fs::create_dir_all(&images).expect("mkdir");
    let mut frames = Vec::new();
    let mut shapes = Vec::new();
    for i in 0..100u64 {
        let (img, objects) = synth_image(5000 + i);
        let name = format!("img_{i:03}.png");
        img.save(images.join(&name)).expect("png");
        frames.push(Frame {
            name,
            width: img.width(),
            height: img.height(),
        });
        for o in objects {
            shapes.push((i as u32, o));
        }
    }
    let labels = synth::labels();
    let mut doc = Annotations::new("cascade", labels.clone(), frames).expect("doc");
    for (n, (frame, o)) in shapes.into_iter().enumerate() {
        let id = n as u64 + 1;
        doc.shapes.insert(
            id,
            Shape {
                id,
                label: labels[o.class].name.clone(),
                frame,
                bbox: o.bbox,
                occluded: o.occluded,
                z_order: 0,
                source: "manual".into(),
                attributes: Default::default(),
            },
        );
    }
    let path = dir.join("instances_default.json");
    std::fs::write(&path, coco::write(&doc)).expect("coco");
    path
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(binary())
        .args(args)
        .env("ATELIER_LOG", "warn")
        .output()
        .expect("run atelier");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_trained_cascade_finds_its_object_with_atelier_detect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coco_path = dataset(dir.path());
    let xml = dir.path().join("disc.xml");
    let (ok, stdout, stderr) = run(&[
        "train-cascade",
        "--annotations",
        coco_path.to_str().expect("utf-8"),
        "--images",
        dir.path().join("images").to_str().expect("utf-8"),
        "--label",
        "disc",
        "-o",
        xml.to_str().expect("utf-8"),
        "--stages",
        "10",
        "--negatives",
        "400",
        "--max-weak-count",
        "30",
        "--budget",
        "40",
    ]);
    assert!(ok, "train-cascade failed:\n{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(summary["label"], "disc");
    assert_eq!(summary["images"], 100);
    assert!(
        summary["stages"].as_array().expect("stages").len() >= 6,
        "{summary}"
    );
    let text = std::fs::read_to_string(&xml).expect("xml written");
    let cascade = atelier_haar::Cascade::from_xml(&text).expect("atelier_haar reads it");
    assert_eq!(cascade.window_size(), atelier_haar::Size::new(24, 24));

    // A held-out image with one unoccluded disc: `atelier detect` finds it at IoU ≥ 0.5.
    let (img, objects, disc) = (90_000..)
        .find_map(|seed| {
            let (img, objects) = synth_image(seed);
            let discs: Vec<BBox> = objects
                .iter()
                .filter(|o| o.class == 0 && !o.occluded)
                .map(|o| o.bbox)
                .collect();
            (discs.len() == 1).then(|| (img, objects, discs[0]))
        })
        .expect("a held-out image");
    assert!(!objects.is_empty());
    let probe = dir.path().join("probe.png");
    img.save(&probe).expect("png");
    let (ok, stdout, stderr) = run(&[
        "detect",
        probe.to_str().expect("utf-8"),
        "--cascade",
        xml.to_str().expect("utf-8"),
        "--min-size",
        "24x24",
    ]);
    assert!(ok, "detect failed:\n{stdout}\n{stderr}");
    let found: Value = serde_json::from_str(stdout.trim()).expect("JSON");
    let best = found["boxes"]
        .as_array()
        .expect("boxes")
        .iter()
        .map(|b| {
            let v = |k: &str| b[k].as_f64().expect("number");
            BBox::from_xywh(v("x"), v("y"), v("width"), v("height")).iou(&disc)
        })
        .fold(0.0, f64::max);
    assert!(best >= 0.5, "best IoU {best} with {disc:?}: {found}");
}

#[test]
fn an_unknown_label_is_refused_with_the_labels_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let doc = Annotations::new(
        "empty",
        synth::labels(),
        vec![Frame {
            name: "a.png".into(),
            width: 8,
            height: 8,
        }],
    )
    .expect("doc");
    let path = dir.path().join("a.json");
    std::fs::write(&path, coco::write(&doc)).expect("coco");
    let (ok, _, stderr) = run(&[
        "train-cascade",
        "--annotations",
        path.to_str().expect("utf-8"),
        "--images",
        dir.path().to_str().expect("utf-8"),
        "--label",
        "teapot",
        "-o",
        dir.path().join("x.xml").to_str().expect("utf-8"),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("no label \"teapot\"") && stderr.contains("disc, triangle, cross, diamond"),
        "{stderr}"
    );
}
