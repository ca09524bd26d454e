//! `atelier models list|fetch|import|verify`: the model cache.

use std::io::Write;

use anyhow::Context;
use atelier_classify::LabelSet;
use atelier_infer::InputSpec;
use atelier_platform::models::Models;

use crate::{
    cli::{ModelsAction, ModelsArgs},
    settings::Settings,
};

/// Runs one `models` action.
pub async fn run(args: ModelsArgs, settings: Settings) -> anyhow::Result<()> {
    let config = settings.platform.models.clone();
    let cache_dir = config.cache_dir.clone();
    match args.action {
        ModelsAction::List => {
            let registry = config.registry()?;
            let models = Models::new(config);
            match models.runtime().await {
                Ok(runtime) => println!("runtime: {:?} ({})", runtime.kind(), runtime.reason()),
                Err(err) => println!("runtime: unavailable ({err})"),
            }
            println!("cache: {}", cache_dir.display());
            for status in registry.list() {
                let entry = &status.entry;
                println!(
                    "{:<24} {:<22} {:<8} {}{}",
                    entry.name,
                    entry.task,
                    format!("{:?}", status.cache).to_lowercase(),
                    entry.description,
                    if entry.default { " [default]" } else { "" }
                );
            }
            if let Some(pack) = registry.cascade_pack() {
                let state = if registry.cached_cascades().is_some() {
                    "present"
                } else {
                    "missing"
                };
                println!(
                    "{:<24} {:<22} {:<8} {}",
                    pack.name, "object-detection", state, pack.description
                );
            }
        }
        ModelsAction::Fetch { name } => {
            let registry = config.registry()?;
            let pack = registry.cascade_pack().map(|pack| pack.name.clone());
            let (names, with_pack): (Vec<String>, bool) = match name {
                Some(name) if Some(&name) == pack.as_ref() => (Vec::new(), true),
                Some(name) => (vec![name], false),
                None => (
                    registry
                        .entries()
                        .filter(|e| e.source.is_some() || e.offline.is_some())
                        .map(|e| e.name.clone())
                        .collect(),
                    pack.is_some(),
                ),
            };
            if with_pack {
                let dir = tokio::task::block_in_place(|| registry.fetch_cascades())
                    .context("cannot fetch the OpenCV cascades")?;
                println!("{}: {}", pack.unwrap_or_default(), dir.display());
            }
            for name in names {
                let resolved = tokio::task::block_in_place(|| registry.fetch(&name))
                    .with_context(|| format!("cannot fetch {name}"))?;
                println!("{name}: {}", resolved.path.display());
            }
        }
        ModelsAction::Import {
            file,
            name,
            labels,
            size,
        } => {
            let mut registry = config.registry()?;
            let imagenet_file;
            let labels_path = if labels == "imagenet" || labels == "imagenet-1k" {
                imagenet_file = write_imagenet_labels()?;
                imagenet_file.path().to_owned()
            } else {
                labels.into()
            };
            let mut input = InputSpec::imagenet();
            input.height = size;
            input.width = size;
            input.resize_shorter = size * 256 / 224;
            let entry =
                tokio::task::block_in_place(|| registry.import(&name, &file, &labels_path, input))?;
            println!("imported {} ({})", entry.name, entry.description);
        }
        ModelsAction::Verify => {
            let registry = config.registry()?;
            let mut bad = 0;
            let mut verdicts = tokio::task::block_in_place(|| registry.verify())?;
            if let (Some(pack), Some(verdict)) = (
                registry.cascade_pack(),
                tokio::task::block_in_place(|| registry.verify_cascades())?,
            ) {
                verdicts.push((pack.name.clone(), verdict));
            }
            for (name, verdict) in verdicts {
                println!("{name:<24} {verdict:?}");
                if matches!(
                    verdict,
                    atelier_infer::registry::Verification::Mismatch { .. }
                ) {
                    bad += 1;
                }
            }
            anyhow::ensure!(bad == 0, "{bad} model(s) do not match their checksums");
        }
    }
    Ok(())
}

/// The ImageNet-1k labels as a temporary `ID NAME` file, for importing ImageNet classifiers.
fn write_imagenet_labels() -> anyhow::Result<tempfile::NamedTempFile> {
    let labels = LabelSet::imagenet1k();
    let mut file = tempfile::NamedTempFile::new()?;
    for index in 0..labels.len() {
        if let Some(label) = labels.get(index) {
            writeln!(file, "{} {}", label.id, label.name)?;
        }
    }
    file.flush()?;
    Ok(file)
}
