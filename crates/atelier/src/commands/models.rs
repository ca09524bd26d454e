//! `atelier models list|fetch|import|verify`: the model cache.

use std::io::Write;

use anyhow::Context;
use atelier_classify::LabelSet;
use atelier_infer::{InputSpec, Registry};
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
            let registry = Registry::open(&cache_dir)?;
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
        }
        ModelsAction::Fetch { name } => {
            let registry = Registry::open(&cache_dir)?;
            let names: Vec<String> = match name {
                Some(name) => vec![name],
                None => registry
                    .entries()
                    .filter(|e| e.source.is_some() || e.offline.is_some())
                    .map(|e| e.name.clone())
                    .collect(),
            };
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
            let mut registry = Registry::open(&cache_dir)?;
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
            let registry = Registry::open(&cache_dir)?;
            let mut bad = 0;
            for (name, verdict) in tokio::task::block_in_place(|| registry.verify())? {
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
