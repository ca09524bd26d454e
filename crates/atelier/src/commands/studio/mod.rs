//! `atelier studio …`: a client of a running server's detector studio API, so a whole detector
//! project can be scripted as cvat-cli scripts CVAT: projects and labels, media import,
//! annotation import and export, training (each epoch's loss and eval mAP shown as it runs),
//! the detector's download, and an LBP cascade trained here on a project's annotated frames. Results are JSON lines on stdout; progress goes to stderr (a bar on
//! a terminal, plain lines otherwise); an error answer of the server is shown with its message
//! and code, and the command exits non-zero.

mod annotations;
mod cascade;
mod client;
mod job;
mod media;
mod progress;
mod projects;
mod realtime;
mod train;

use crate::studio_args::{StudioAction, StudioArgs};

/// Runs one studio action against the server the flags name.
pub async fn run(args: StudioArgs) -> anyhow::Result<()> {
    if matches!(args.action, StudioAction::Login) {
        anyhow::ensure!(
            args.server.user.is_some(),
            "`atelier studio login` needs --user (or ATELIER_USER)"
        );
    }
    let api = client::Api::connect(&args.server).await?;
    match args.action {
        StudioAction::Login => {
            println!("{}", api.token());
            Ok(())
        }
        StudioAction::Projects => projects::list(&api).await,
        StudioAction::Create(args) => projects::create(&api, args).await,
        StudioAction::Import(args) if args.annotations.is_some() => {
            annotations::import(&api, args).await
        }
        StudioAction::Import(args) => media::import(&api, args).await,
        StudioAction::Export(args) => annotations::export(&api, args).await,
        StudioAction::Train(args) => train::train(&api, args).await,
        StudioAction::Detectors(args) => train::list(&api, args.project).await,
        StudioAction::Download(args) => train::download(&api, args).await,
        StudioAction::TrainCascade(args) => cascade::train(&api, *args).await,
    }
}

/// Prints one result as a JSON line on stdout.
fn print_json(value: &serde_json::Value) {
    println!("{value}");
}
