//! `atelier backup DEST` and `atelier restore SRC`: the embedded deployment copied while it runs,
//! and put back into an empty data folder.

use std::path::Path;

use anyhow::Context;
use atelier_platform::{Platform, backup};

use crate::settings::Settings;

/// Backs the deployment up into `dest` and prints what was copied (JSON).
pub async fn backup(dest: &Path, settings: Settings) -> anyhow::Result<()> {
    let platform = Platform::open(settings.platform)
        .await
        .context("cannot open the deployment")?;
    let result = backup::backup(&platform, dest).await;
    platform.db().close().await;
    let manifest = result.with_context(|| format!("backup into {} failed", dest.display()))?;
    tracing::info!(
        objects = manifest.objects,
        bytes = manifest.object_bytes,
        "backup written to {}",
        dest.display()
    );
    println!("{}", serde_json::to_string_pretty(&manifest)?);
    Ok(())
}

/// Restores the backup in `src` into the configured (empty) deployment and prints the restored
/// row counts (JSON).
pub async fn restore(src: &Path, settings: Settings) -> anyhow::Result<()> {
    let manifest = backup::restore(src, &settings.platform)
        .await
        .with_context(|| format!("restore from {} failed", src.display()))?;
    tracing::info!(
        objects = manifest.objects,
        "restored into {}",
        settings.platform.data_dir.display()
    );
    println!("{}", serde_json::to_string_pretty(&manifest)?);
    Ok(())
}
