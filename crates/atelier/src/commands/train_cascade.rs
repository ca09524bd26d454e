//! `atelier train-cascade --annotations FILE --images DIR --label NAME -o OUT.xml`: trains an LBP
//! cascade (`atelier_detector::cascade_train`) for one label of annotated images, offline, and
//! writes it as OpenCV cascade XML; prints what it trained as one JSON line. The XML runs in
//! `atelier detect --cascade OUT.xml`, in the server's detect endpoint once put in the cascade
//! folder, and in OpenCV's `cv2.CascadeClassifier`, with the same boxes.

use std::path::{Component, Path};
use std::time::Duration;

use anyhow::Context;
use atelier_detector::cascade_train::{CascadeParams, GrayFrame, TrainingFrame, train};
use atelier_detector::formats::{coco, cvat_images};
use atelier_detector::{Annotations, no_progress};
use atelier_haar::Size;
use atelier_imaging::{RgbImage, decode_image};
use serde_json::{Map, Value, json};

use crate::{cascade_args::CascadeTrainingArgs, cli::TrainCascadeArgs, settings::Settings};

/// Reads the annotation file by its extension.
fn annotations(path: &Path) -> anyhow::Result<Annotations> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc = match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("json") => coco::read(&text)?,
        Some(e) if e.eq_ignore_ascii_case("xml") => cvat_images::read(&text)?,
        _ => anyhow::bail!(
            "{}: annotations must be COCO JSON (.json) or CVAT for images XML (.xml)",
            path.display()
        ),
    };
    Ok(doc)
}

/// Parses `WxH`.
fn window(text: &str) -> anyhow::Result<Size> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .context("the window is written WIDTHxHEIGHT, e.g. 24x24")?;
    Ok(Size::new(w.trim().parse()?, h.trim().parse()?))
}

/// A frame's image path under `dir`: its name must stay inside the folder.
fn image_path(dir: &Path, name: &str) -> anyhow::Result<std::path::PathBuf> {
    let relative = Path::new(name);
    anyhow::ensure!(
        relative
            .components()
            .all(|c| matches!(c, Component::Normal(_))),
        "image name {name:?} leaves the images folder"
    );
    Ok(dir.join(relative))
}

fn train_blocking(args: &TrainCascadeArgs, settings: &Settings) -> anyhow::Result<()> {
    let label = &args.training.label;
    let doc = annotations(&args.annotations)?;
    if doc.label(label).is_err() {
        let names: Vec<&str> = doc.labels.iter().map(|l| l.name.as_str()).collect();
        anyhow::bail!(
            "no label {label:?} in {}; its labels: {}",
            args.annotations.display(),
            names.join(", ")
        );
    }
    let limits = &settings.platform.uploads.decode;
    let load = |path: &Path| -> anyhow::Result<RgbImage> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(decode_image(&bytes, limits)
            .with_context(|| format!("cannot decode {}", path.display()))?
            .into_rgb8())
    };
    let mut frames = Vec::with_capacity(doc.frames.len());
    for (n, frame) in doc.frames.iter().enumerate() {
        let image = load(&image_path(&args.images, &frame.name)?)?;
        let boxes = doc.boxes_on(n as u32);
        frames.push(TrainingFrame::from_boxes(
            &image,
            &boxes,
            label,
            args.training.occluded,
        )?);
    }
    let mut backgrounds = 0;
    if let Some(dir) = &args.backgrounds {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        for path in paths {
            frames.push(TrainingFrame {
                image: GrayFrame::from_rgb(&load(&path)?)?,
                positives: Vec::new(),
                ignore: Vec::new(),
            });
            backgrounds += 1;
        }
    }
    let mut summary = Map::new();
    summary.insert("images".into(), json!(doc.frames.len()));
    summary.insert("backgrounds".into(), json!(backgrounds));
    train_and_write(&frames, &args.training, summary)
}

/// Trains a cascade on `frames` as `args` say, writes its XML to `args.output` and prints one
/// JSON line: `summary`'s fields (where the frames came from), then the label, the positives,
/// the window, why training stopped, its time and each stage's figures.
pub(crate) fn train_and_write(
    frames: &[TrainingFrame],
    args: &CascadeTrainingArgs,
    mut summary: Map<String, Value>,
) -> anyhow::Result<()> {
    let params = CascadeParams {
        window: window(&args.window)?,
        stages: args.stages,
        min_hit_rate: args.min_hit_rate,
        max_false_alarm: args.max_false_alarm,
        max_weak_count: args.max_weak_count,
        negatives: args.negatives,
        mirror: !args.no_mirror,
        time_budget: Duration::from_secs(args.budget),
        seed: args.seed,
        ..CascadeParams::default()
    };
    let cascade = train(frames, &params, &mut no_progress())
        .with_context(|| format!("training a cascade for {:?}", args.label))?;
    std::fs::write(&args.output, cascade.to_xml())
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    let r = &cascade.report;
    let stages: Vec<_> = r
        .stages
        .iter()
        .map(|s| {
            json!({"weak_count": s.weak_count, "positives": s.positives,
                   "negatives": s.negatives, "hit_rate": s.hit_rate,
                   "false_alarm": s.false_alarm, "background_pass_rate": s.acceptance,
                   "seconds": s.seconds})
        })
        .collect();
    for (key, value) in [
        ("output", json!(args.output)),
        ("label", json!(args.label)),
        ("positives", json!(r.positives)),
        ("window", json!([params.window.width, params.window.height])),
        ("stop", json!(format!("{:?}", r.stop))),
        ("seconds", json!(r.seconds)),
        ("stages", json!(stages)),
    ] {
        summary.insert(key.into(), value);
    }
    println!("{}", Value::Object(summary));
    Ok(())
}

/// Trains and writes the cascade (on a blocking thread: training is CPU-bound and uses rayon).
pub async fn run(args: TrainCascadeArgs, settings: Settings) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || train_blocking(&args, &settings)).await?
}
