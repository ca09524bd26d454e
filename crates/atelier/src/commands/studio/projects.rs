//! `atelier studio projects` and `atelier studio create`.

use anyhow::Context;
use serde_json::json;

use super::{client::Api, print_json};
use crate::studio_args::CreateArgs;

/// Prints every project you see, one JSON line each (newest first).
pub async fn list(api: &Api) -> anyhow::Result<()> {
    let answer = api.get("/api/v1/studio/projects").await?;
    for project in answer["projects"].as_array().into_iter().flatten() {
        print_json(project);
    }
    Ok(())
}

/// Creates the project, then its labels in order; prints the project with its labels.
pub async fn create(api: &Api, args: CreateArgs) -> anyhow::Result<()> {
    let project = api
        .post(
            "/api/v1/studio/projects",
            &json!({"name": args.name, "shared_with_family": args.shared}),
        )
        .await?;
    let pid = project["id"]
        .as_i64()
        .context("the created project has no id")?;
    for label in args
        .labels
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
    {
        api.post(
            &format!("/api/v1/studio/projects/{pid}/labels"),
            &json!({"name": label}),
        )
        .await
        .with_context(|| format!("project {pid} was created, but not its label {label:?}"))?;
    }
    print_json(&api.get(&format!("/api/v1/studio/projects/{pid}")).await?);
    Ok(())
}
