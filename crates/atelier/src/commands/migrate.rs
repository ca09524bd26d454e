//! `atelier migrate`: apply migrations and exit.

use anyhow::Context;
use atelier_platform::db::Db;

use crate::settings::Settings;

/// Connects (which migrates) and reports.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let db = Db::connect(&settings.platform.database_url, 1)
        .await
        .context("migration failed")?;
    tracing::info!(backend = ?db.backend(), "database is up to date");
    db.close().await;
    Ok(())
}
