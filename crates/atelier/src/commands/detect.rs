//! `atelier detect IMAGE --cascade NAME [--draw out.png]`: boxes as JSON on stdout.
//! `atelier detect IMAGE --detector FILE.zip [--min-score S]` runs a studio detector's download
//! (its `detector.onnx`, through atelier's inference runtime) instead, printing what
//! `POST /api/v1/detect?detector=` answers: boxes with label, label id and score.

use anyhow::Context;
use std::io::Read;
use std::path::Path;

use atelier_detector::export::{Exported, LabelMap};
use atelier_haar::{Cascade, DetectParams, GrayImage, Rect, Size, rgb_to_gray};
use atelier_imaging::decode_image;
use atelier_infer::Runtime;
use atelier_platform::models::{Models, cascades::png_with_boxes};
use serde_json::json;

use crate::{cli::DetectArgs, settings::Settings};

/// Parses `WxH`.
fn parse_size(text: Option<&str>) -> anyhow::Result<Size> {
    let Some(text) = text else {
        return Ok(Size::new(0, 0));
    };
    let (w, h) = text
        .split_once(['x', 'X'])
        .context("sizes are written WIDTHxHEIGHT, e.g. 30x30")?;
    Ok(Size::new(w.trim().parse()?, h.trim().parse()?))
}

/// Reads one member of a detector zip.
fn member(archive: &mut zip::ZipArchive<std::fs::File>, name: &str) -> anyhow::Result<Vec<u8>> {
    let mut file = archive
        .by_name(name)
        .with_context(|| format!("the detector zip has no {name}"))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Runs a downloaded studio detector on the image.
fn run_detector(args: &DetectArgs, settings: &Settings, zip_path: &Path) -> anyhow::Result<()> {
    if !(args.min_score > 0.0 && args.min_score <= 1.0) {
        anyhow::bail!("--min-score must be in (0, 1]");
    }
    let file = std::fs::File::open(zip_path)
        .with_context(|| format!("cannot open {}", zip_path.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a zip", zip_path.display()))?;
    let map: LabelMap = serde_json::from_slice(&member(&mut archive, "labels.json")?)
        .context("labels.json is not a detector label map")?;
    let dir = tempfile::tempdir()?;
    let onnx = dir.path().join("detector.onnx");
    std::fs::write(&onnx, member(&mut archive, "detector.onnx")?)?;
    let runtime = Runtime::auto(&settings.platform.models.runtime_config())?;
    let model = runtime
        .load(&onnx)
        .context("cannot load the detector's ONNX model")?;
    let mut detector = Exported::new(model, map.input.width, map.input.height);

    let bytes = std::fs::read(&args.image)
        .with_context(|| format!("cannot read {}", args.image.display()))?;
    let started = std::time::Instant::now();
    let rgb = decode_image(&bytes, &settings.platform.uploads.decode)?.into_rgb8();
    let found = detector.detect(&rgb, args.min_score)?;
    let elapsed = started.elapsed();
    let rects: Vec<Rect> = found
        .iter()
        .map(|(_, b, _)| Rect {
            x: b.xtl.round() as i32,
            y: b.ytl.round() as i32,
            width: b.width().round() as i32,
            height: b.height().round() as i32,
        })
        .collect();
    let listed: Vec<_> = found
        .iter()
        .zip(&rects)
        .map(|((class, _, score), r)| {
            let label = map.labels.get(*class);
            json!({"x": r.x, "y": r.y, "width": r.width, "height": r.height,
                   "label": label.map(|l| l.name.as_str()), "label_id": label.map(|l| l.label_id),
                   "score": score})
        })
        .collect();
    println!(
        "{}",
        json!({"cascade": "detector", "detector": zip_path.display().to_string(),
               "width": rgb.width(), "height": rgb.height(), "boxes": listed,
               "elapsed_ms": elapsed.as_secs_f64() * 1000.0})
    );
    if let Some(out) = &args.draw {
        std::fs::write(out, png_with_boxes(rgb, &rects)?)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}

/// Runs one detection.
pub async fn run(args: DetectArgs, settings: Settings) -> anyhow::Result<()> {
    if let Some(zip_path) = args.detector.clone() {
        return tokio::task::spawn_blocking(move || run_detector(&args, &settings, &zip_path))
            .await?;
    }
    let cascade = if args.cascade.ends_with(".xml") {
        std::sync::Arc::new(
            Cascade::from_file(&args.cascade)
                .with_context(|| format!("cannot load {}", args.cascade))?,
        )
    } else {
        Models::new(settings.platform.models.clone())
            .cascade(&args.cascade)
            .await?
    };
    let params = DetectParams {
        scale_factor: args.scale_factor,
        min_neighbors: args.min_neighbors,
        min_size: parse_size(args.min_size.as_deref())?,
        max_size: parse_size(args.max_size.as_deref())?,
    };
    let bytes = std::fs::read(&args.image)
        .with_context(|| format!("cannot read {}", args.image.display()))?;
    let limits = settings.platform.uploads.decode;
    let started = std::time::Instant::now();
    let rgb = decode_image(&bytes, &limits)?.into_rgb8();
    let gray = rgb_to_gray(rgb.as_raw(), rgb.width(), rgb.height(), 3)?;
    let boxes = cascade.detect_multi_scale(
        &GrayImage::packed(&gray, rgb.width(), rgb.height())?,
        &params,
    )?;
    let elapsed = started.elapsed();
    let listed: Vec<_> = boxes
        .iter()
        .map(|b| json!({"x": b.x, "y": b.y, "width": b.width, "height": b.height}))
        .collect();
    println!(
        "{}",
        json!({"cascade": args.cascade, "width": rgb.width(), "height": rgb.height(), "boxes": listed,
               "elapsed_ms": elapsed.as_secs_f64() * 1000.0})
    );
    if let Some(out) = args.draw {
        std::fs::write(&out, png_with_boxes(rgb, &boxes)?)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}
