//! `atelier serve`: the API, the UI and in-process workers.

use anyhow::Context;
use atelier_server::Application;

use crate::settings::Settings;

/// Serves until Ctrl-C or SIGTERM.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings.server.clone(), settings.platform.clone())
        .await
        .context("cannot start atelier")?;
    let addr = app.local_addr()?;
    tracing::info!(
        database = ?app.platform().db().backend(),
        storage = app.platform().storage().description(),
        "open http://{addr}/ (API docs at http://{addr}/docs)"
    );
    app.run_until(super::shutdown_signal()).await
}
