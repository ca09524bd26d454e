//! `atelier train-cascade`: the built binary trains an LBP cascade for one label from a COCO
//! file and its images (synthetic, made here), writes OpenCV cascade XML, and
//! `atelier detect --cascade OUT.xml` then finds that object in a held-out image. An unknown
//! label is refused with the labels named, and a non-zero exit. `atelier studio train-cascade`
//! does the same from a project on a running server: its annotated clip's frames, fetched.

use std::path::Path;
use std::process::Command;

use atelier_detector::formats::coco;
use atelier_detector::synth::{self, SynthParams};
use atelier_detector::{Annotations, BBox, Frame, Shape};
use serde_json::Value;

use crate::helpers::{Backend, binary, spawn_app};
use crate::studio::{import_annotated, project};

/// Training flags small enough for a test (a few seconds on 2 cores).
const QUICK: [&str; 8] = [
    "--stages",
    "10",
    "--negatives",
    "400",
    "--max-weak-count",
    "30",
    "--budget",
    "40",
];

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
    run_with(args, &[])
}

/// Runs the binary with `args` and `env` set; (success, stdout, stderr).
fn run_with(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(binary())
        .args(args)
        .env("ATELIER_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("run atelier");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `atelier detect --cascade xml` on `img` (objects from 24 px): the best IoU of a found box
/// with `truth`, and the answer.
fn best_detection(dir: &Path, img: &image::RgbImage, xml: &Path, truth: &BBox) -> (f64, Value) {
    let probe = dir.join("probe.png");
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
            BBox::from_xywh(v("x"), v("y"), v("width"), v("height")).iou(truth)
        })
        .fold(0.0, f64::max);
    (best, found)
}

#[test]
fn a_trained_cascade_finds_its_object_with_atelier_detect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coco_path = dataset(dir.path());
    let xml = dir.path().join("disc.xml");
    let (ok, stdout, stderr) = run(&[
        &[
            "train-cascade",
            "--annotations",
            coco_path.to_str().expect("utf-8"),
            "--images",
            dir.path().join("images").to_str().expect("utf-8"),
            "--label",
            "disc",
            "-o",
            xml.to_str().expect("utf-8"),
        ][..],
        &QUICK,
    ]
    .concat());
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
    let (best, found) = best_detection(dir.path(), &img, &xml, &disc);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cascade_trains_on_a_studio_projects_frames_fetched_from_the_server() {
    let app = spawn_app(Backend::Embedded).await;
    let token = app.user().await;
    let (pid, labels) = project(&app, &token).await;
    let video = synth::video(
        &SynthParams {
            objects: 3,
            seed: 21,
            ..SynthParams::default()
        },
        60,
        3,
    );
    import_annotated(&app, &token, pid, &video, &labels).await;
    // The class seen on most frames is the one trained for.
    let class = (0..synth::CLASSES.len())
        .max_by_key(|k| {
            video
                .truth
                .iter()
                .filter(|t| t.iter().any(|(c, _)| c == k))
                .count()
        })
        .expect("a class");
    let label = synth::CLASSES[class];
    let dir = tempfile::tempdir().expect("tempdir");
    let xml = dir.path().join("cascade.xml");
    let pid_text = pid.to_string();
    let env = [
        ("ATELIER_SERVER", app.base.as_str()),
        ("ATELIER_TOKEN", token.as_str()),
    ];
    let studio = |label: &str| {
        let args = [
            "studio",
            "train-cascade",
            &pid_text,
            "--label",
            label,
            "-o",
            xml.to_str().expect("utf-8"),
        ];
        let args: Vec<String> = args.iter().chain(&QUICK).map(|a| a.to_string()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run_with(&args, &env)
        })
    };
    let (ok, stdout, stderr) = studio(label).await.expect("run");
    assert!(ok, "studio train-cascade failed:\n{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(summary["project"], pid);
    assert_eq!(summary["media"], 1);
    let annotated = video.truth.iter().filter(|t| !t.is_empty()).count();
    assert_eq!(summary["frames"], annotated, "{summary}");
    assert!(summary["positives"].as_u64() > Some(30), "{summary}");

    // A frame of the clip with the object: the cascade finds it where the track has it.
    let frame = (0..video.frames.len())
        .step_by(7)
        .find(|&f| video.truth[f].iter().filter(|(c, _)| *c == class).count() == 1)
        .expect("a frame with one object of the class");
    let truth = video.truth[frame]
        .iter()
        .find(|(c, _)| *c == class)
        .map(|(_, b)| *b)
        .expect("truth");
    let (best, found) = best_detection(dir.path(), &video.frames[frame], &xml, &truth);
    assert!(
        best >= 0.5,
        "frame {frame}: best IoU {best} with {truth:?}: {found}"
    );

    let (ok, _, stderr) = studio("teapot").await.expect("run");
    assert!(!ok);
    assert!(
        stderr.contains("no label \"teapot\"") && stderr.contains("disc, triangle, cross, diamond"),
        "{stderr}"
    );
    app.stop().await;
}
