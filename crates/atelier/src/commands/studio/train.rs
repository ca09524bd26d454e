//! `atelier studio train PROJECT`, `atelier studio detectors PROJECT` and
//! `atelier studio download DETECTOR -o FILE.zip`.

use std::collections::BTreeSet;

use anyhow::Context;
use serde_json::{Map, Value, json};

use super::{client::Api, job, print_json, progress::Progress};
use crate::studio_args::{DownloadArgs, TrainArgs};

/// `epoch 3/40  loss 0.1234  eval mAP@0.5 0.567`.
fn epoch_line(epoch: u64, epochs: Option<u64>, stats: &Value) -> String {
    let of = epochs.map(|n| format!("/{n}")).unwrap_or_default();
    let loss = stats["loss"]
        .as_f64()
        .map_or_else(|| "-".to_owned(), |l| format!("{l:.4}"));
    let map50 = stats["eval_map50"]
        .as_f64()
        .map_or_else(|| "-".to_owned(), |m| format!("{m:.3}"));
    format!("epoch {epoch}{of}  loss {loss}  eval mAP@0.5 {map50}")
}

/// Starts the `train` job and, unless `--no-wait`, shows each epoch until the detector is
/// stored; prints the detector's id and metrics.
pub async fn train(api: &Api, args: TrainArgs) -> anyhow::Result<()> {
    let pid = args.project;
    let mut params = Map::new();
    if let Some(epochs) = args.epochs {
        params.insert("max_epochs".into(), json!(epochs));
    }
    if let Some(budget) = args.budget {
        params.insert("time_budget_secs".into(), json!(budget));
    }
    let started = api
        .post(
            &format!("/api/v1/studio/projects/{pid}/train"),
            &Value::Object(params),
        )
        .await?;
    if args.no_wait {
        print_json(&json!({"job_id": started["job_id"], "project_id": pid}));
        return Ok(());
    }
    let job_id = started["job_id"].as_str().context("no job id")?;
    let progress = Progress::percent(&format!("train project {pid}"));
    let mut shown = BTreeSet::new();
    let mut epochs = args.epochs.map(|n| n as u64);
    let followed = job::follow(api, job_id, &progress, |event| {
        if let Some(epoch) = event["epoch"].as_u64() {
            epochs = event["epochs"].as_u64().or(epochs);
            if shown.insert(epoch) {
                progress.line(&epoch_line(epoch, epochs, event));
            }
        }
    })
    .await;
    if followed.is_err() {
        progress.clear();
    }
    let finished = followed?;
    let did = finished["output"]["detector_id"]
        .as_i64()
        .context("the finished training names no detector")?;
    let detector = api.get(&format!("/api/v1/studio/detectors/{did}")).await?;
    // Epochs the live channel did not bring (no socket, or ones before it subscribed).
    for stats in detector["history"].as_array().into_iter().flatten() {
        if let Some(epoch) = stats["epoch"].as_u64()
            && shown.insert(epoch)
        {
            progress.line(&epoch_line(epoch, epochs, stats));
        }
    }
    let map50 = detector["metrics"]["map50"].as_f64();
    progress.finish(&format!(
        "detector {did}: mAP@0.5 {}, {} epochs, {:.1} s",
        map50.map_or_else(|| "-".to_owned(), |m| format!("{m:.3}")),
        shown.len(),
        detector["training_secs"].as_f64().unwrap_or(0.0)
    ));
    print_json(&json!({
        "detector_id": did,
        "project_id": pid,
        "job_id": job_id,
        "map50": detector["metrics"]["map50"],
        "map": detector["metrics"]["map"],
        "epochs": shown.len(),
        "training_secs": detector["training_secs"],
    }));
    Ok(())
}

/// Prints a project's detectors, one JSON line each (newest first).
pub async fn list(api: &Api, pid: i64) -> anyhow::Result<()> {
    let answer = api
        .get(&format!("/api/v1/studio/projects/{pid}/detectors"))
        .await?;
    for detector in answer["detectors"].as_array().into_iter().flatten() {
        print_json(detector);
    }
    Ok(())
}

/// Writes the detector's zip; prints where and how large.
pub async fn download(api: &Api, args: DownloadArgs) -> anyhow::Result<()> {
    let did = args.detector;
    let bytes = api
        .download(
            &format!("/api/v1/studio/detectors/{did}/download"),
            &args.output,
        )
        .await?;
    print_json(&json!({"detector_id": did, "output": args.output, "bytes": bytes}));
    Ok(())
}
