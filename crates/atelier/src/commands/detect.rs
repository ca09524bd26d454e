//! `atelier detect IMAGE --cascade NAME [--draw out.png]`: boxes as JSON on stdout.

use anyhow::Context;
use atelier_haar::{Cascade, DetectParams, GrayImage, Size, rgb_to_gray};
use atelier_imaging::decode_image;
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

/// Runs one detection.
pub async fn run(args: DetectArgs, settings: Settings) -> anyhow::Result<()> {
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
