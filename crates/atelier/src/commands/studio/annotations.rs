//! `atelier studio import PROJECT --annotations FILE --media MID --format F` and
//! `atelier studio export PROJECT|--media MID --format F -o FILE`.

use anyhow::Context;
use serde_json::json;

use super::{client::Api, print_json, progress::Progress};
use crate::studio_args::{ExportArgs, ImportArgs};

/// Replaces a media's annotations with a file's; prints the new version.
pub async fn import(api: &Api, args: ImportArgs) -> anyhow::Result<()> {
    let (Some(file), Some(mid), Some(format)) = (&args.annotations, args.media, args.format) else {
        anyhow::bail!("--annotations needs --media and --format");
    };
    let media = api.get(&format!("/api/v1/studio/media/{mid}")).await?;
    anyhow::ensure!(
        media["project_id"].as_i64() == Some(args.project),
        "media {mid} is not in project {}",
        args.project
    );
    let sending = Progress::bytes(&format!("annotations {}", file.display()));
    let answer = api
        .post_file(
            &format!(
                "/api/v1/studio/media/{mid}/annotations/import?format={}",
                format.api_name()
            ),
            file,
            &sending,
        )
        .await;
    sending.clear();
    print_json(&answer.with_context(|| format!("importing {}", file.display()))?);
    Ok(())
}

/// Writes a project's (or one media's) annotations as a zip; prints where and how large.
pub async fn export(api: &Api, args: ExportArgs) -> anyhow::Result<()> {
    let format = args.format.api_name();
    let path = match (args.media, args.project) {
        (Some(mid), _) => format!("/api/v1/studio/media/{mid}/export?format={format}"),
        (None, Some(pid)) => format!("/api/v1/studio/projects/{pid}/export?format={format}"),
        (None, None) => anyhow::bail!("give a project id or --media"),
    };
    let bytes = api.download(&path, &args.output).await?;
    print_json(&json!({"output": args.output, "format": format, "bytes": bytes}));
    Ok(())
}
