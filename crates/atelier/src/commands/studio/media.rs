//! `atelier studio import PROJECT FILE…`: each file uploaded (`POST /api/v1/uploads`, a bar
//! of bytes sent), added to the project (`POST …/projects/{pid}/media`, which queues its
//! `studio_import` job) and, unless `--no-wait`, followed until its frames are stored.

use std::time::Instant;

use anyhow::Context;
use serde_json::json;

use super::{client::Api, job, print_json, progress::Progress};
use crate::studio_args::ImportArgs;

/// Imports every file in turn; prints each media (ready, or as queued with `--no-wait`).
pub async fn import(api: &Api, args: ImportArgs) -> anyhow::Result<()> {
    let pid = args.project;
    // A project that is not there fails before any upload.
    api.get(&format!("/api/v1/studio/projects/{pid}")).await?;
    for file in &args.files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.display().to_string());
        let started = Instant::now();
        let sending = Progress::bytes(&format!("upload {name}"));
        let upload = api.post_file("/api/v1/uploads", file, &sending).await;
        sending.clear();
        let upload = upload?;
        let media = api
            .post(
                &format!("/api/v1/studio/projects/{pid}/media"),
                &json!({"upload_id": upload["id"]}),
            )
            .await
            .with_context(|| format!("{name} was uploaded but not added to project {pid}"))?;
        if args.no_wait {
            print_json(&media);
            continue;
        }
        let mid = media["id"].as_i64().context("the media has no id")?;
        let job_id = media["job_id"]
            .as_str()
            .context("the media has no import job")?;
        let importing = Progress::percent(&format!("import {name}"));
        let followed = job::follow(api, job_id, &importing, |_| {}).await;
        if followed.is_err() {
            importing.clear();
        }
        followed.with_context(|| format!("importing {name} (media {mid})"))?;
        let media = api.get(&format!("/api/v1/studio/media/{mid}")).await?;
        importing.finish(&format!(
            "media {mid}: {} frames, {}×{}, in {:.1} s",
            media["frame_count"],
            media["width"],
            media["height"],
            started.elapsed().as_secs_f64()
        ));
        print_json(&media);
    }
    Ok(())
}
