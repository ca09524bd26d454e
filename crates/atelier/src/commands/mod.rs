//! One file per subcommand.

mod animate;
mod backup;
mod classify;
mod detect;
mod migrate;
mod models;
mod photo3d;
mod serve;
mod studio;
mod train_cascade;
mod worker;

use crate::{cli::Command, settings::Settings};

/// Runs a parsed subcommand with resolved settings.
pub async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) => serve::run(settings).await,
        Command::Worker(_) => worker::run(settings).await,
        Command::Migrate(_) => migrate::run(settings).await,
        Command::Backup(args) => backup::backup(&args.dest, settings).await,
        Command::Restore(args) => backup::restore(&args.src, settings).await,
        Command::Classify(args) => classify::run(args, settings).await,
        Command::Models(args) => models::run(args, settings).await,
        Command::Detect(args) => detect::run(args, settings).await,
        Command::TrainCascade(args) => train_cascade::run(*args, settings).await,
        Command::Animate(args) => animate::run(args, settings).await,
        Command::Photo3d(args) => photo3d::run(args, settings).await,
        Command::Studio(args) => studio::run(args).await,
    }
}

/// Resolves when the process receives Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
