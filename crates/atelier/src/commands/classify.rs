//! `atelier classify IMAGE_OR_DIR...`: one JSON line per image on stdout, a progress bar on
//! stderr for more than one image. Images are decoded and preprocessed in parallel and run
//! through the same batching executor as the server.

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;
use atelier_imaging::DecodeLimits;
use atelier_platform::models::{LoadedClassifier, Models};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::{cli::ClassifyArgs, settings::Settings};

const IMAGE_EXTENSIONS: [&str; 5] = ["jpg", "jpeg", "png", "webp", "gif"];

/// The image files named by `inputs`: files as given, folders listed (sorted, not recursive).
fn collect_images(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("cannot list {}", input.display()))?
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| {
                    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())
                    })
                })
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

async fn classify_file(
    loaded: Arc<LoadedClassifier>,
    path: PathBuf,
    top_k: usize,
    limits: DecodeLimits,
) -> anyhow::Result<serde_json::Value> {
    let prepare = loaded.clone();
    let tensor = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(prepare.prepare_encoded(&bytes, &limits)?)
    })
    .await??;
    Ok(serde_json::to_value(
        loaded.classify_prepared(tensor, top_k).await?,
    )?)
}

/// Classifies every image and prints JSON lines; fails if any image failed.
pub async fn run(args: ClassifyArgs, settings: Settings) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=100).contains(&args.top_k),
        "--top-k must be between 1 and 100"
    );
    let files = collect_images(&args.inputs)?;
    anyhow::ensure!(!files.is_empty(), "no images found in the given paths");
    let models = Models::new(settings.platform.models.clone());
    let loaded = models.classifier(args.model.as_deref()).await?;
    let bar = if files.len() > 1 {
        ProgressBar::new(files.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let limits = settings.platform.uploads.decode;
    let concurrency = settings.platform.models.batching.max_batch.max(1) * 2;
    let mut results = futures::stream::iter(files.into_iter().map(|path| {
        let loaded = loaded.clone();
        async move {
            let result = classify_file(loaded, path.clone(), args.top_k, limits).await;
            (path, result)
        }
    }))
    .buffered(concurrency);
    let mut failures = 0;
    while let Some((path, result)) = results.next().await {
        let line = match result {
            Ok(mut answer) => {
                answer["file"] = json!(path.display().to_string());
                answer
            }
            Err(err) => {
                failures += 1;
                json!({"file": path.display().to_string(), "error": format!("{err:#}")})
            }
        };
        bar.suspend(|| println!("{line}"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    anyhow::ensure!(failures == 0, "{failures} image(s) could not be classified");
    Ok(())
}
