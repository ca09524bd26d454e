//! `atelier studio train-cascade PROJECT --label NAME -o OUT.xml`: an LBP cascade for one label
//! of a project on the server, trained on this machine. Every ready media's annotations come as
//! its COCO export; the frames holding boxes (key frames, interpolated frames, shapes) are
//! fetched as the server stores them (at most `--max-frames`, taken evenly), and the cascade is
//! trained and written as `atelier train-cascade` does with files.

use std::io::Read;

use anyhow::Context;
use atelier_detector::{Annotations, FrameBox, cascade_train::TrainingFrame, formats::coco};
use atelier_imaging::{DecodeLimits, decode_image};
use serde_json::{Map, json};

use super::{client::Api, progress::Progress};
use crate::{commands::train_cascade::train_and_write, studio_args::CascadeArgs};

/// Where COCO's export puts its annotations in the zip.
const COCO_FILE: &str = "annotations/instances_default.json";

/// One frame to fetch: its media, its number and its boxes.
struct Wanted {
    media: i64,
    frame: u32,
    boxes: Vec<FrameBox>,
}

/// The annotations in a media's COCO export zip.
fn coco_of_zip(bytes: Vec<u8>, media: i64) -> anyhow::Result<Annotations> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .with_context(|| format!("media {media}: the export is not a zip"))?;
    let mut text = String::new();
    archive
        .by_name(COCO_FILE)
        .with_context(|| format!("media {media}: the export holds no {COCO_FILE}"))?
        .read_to_string(&mut text)
        .with_context(|| format!("media {media}: cannot read {COCO_FILE}"))?;
    Ok(coco::read(&text)?)
}

/// `count` items of `all` spread evenly over it (all of them when there are no more).
fn evenly<T>(all: Vec<T>, count: usize) -> Vec<T> {
    let total = all.len();
    if total <= count {
        return all;
    }
    let mut next = 0;
    all.into_iter()
        .enumerate()
        .filter(|(i, _)| {
            let take = next < count && *i == next * total / count;
            next += usize::from(take);
            take
        })
        .map(|(_, item)| item)
        .collect()
}

/// Fetches the project's annotated frames, trains the cascade, writes it, prints the summary.
pub async fn train(api: &Api, args: CascadeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.max_frames >= 1, "--max-frames must be at least 1");
    let pid = args.project;
    let label = args.training.label.clone();
    let list = api
        .get(&format!("/api/v1/studio/projects/{pid}/media"))
        .await?;
    let ready: Vec<i64> = list["media"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["status"] == "ready")
        .filter_map(|m| m["id"].as_i64())
        .collect();
    let mut labels = Vec::new();
    let mut wanted = Vec::new();
    for &media in &ready {
        let export = api
            .get_bytes(&format!("/api/v1/studio/media/{media}/export?format=coco"))
            .await?;
        let doc = coco_of_zip(export, media)?;
        for l in &doc.labels {
            if !labels.contains(&l.name) {
                labels.push(l.name.clone());
            }
        }
        for frame in 0..doc.frames.len() as u32 {
            let boxes = doc.boxes_on(frame);
            if !boxes.is_empty() {
                wanted.push(Wanted {
                    media,
                    frame,
                    boxes,
                });
            }
        }
    }
    anyhow::ensure!(
        labels.contains(&label),
        "project {pid} has no label {label:?}; its labels: {}",
        labels.join(", ")
    );
    anyhow::ensure!(
        wanted
            .iter()
            .any(|w| w.boxes.iter().any(|b| b.label == label)),
        "no frame of project {pid}'s ready media has a box of {label:?}"
    );
    let chosen = evenly(wanted, args.max_frames);
    let progress = Progress::percent("frames");
    let limits = DecodeLimits::default();
    let mut frames = Vec::with_capacity(chosen.len());
    for (i, w) in chosen.iter().enumerate() {
        let path = format!("/api/v1/studio/media/{}/frames/{}", w.media, w.frame);
        let jpeg = api.get_bytes(&path).await?;
        let image = decode_image(&jpeg, &limits)
            .with_context(|| format!("cannot decode {path}"))?
            .into_rgb8();
        frames.push(TrainingFrame::from_boxes(
            &image,
            &w.boxes,
            &label,
            args.training.occluded,
        )?);
        progress.set(((i + 1) * 100 / chosen.len()) as u64, "fetched");
    }
    progress.finish("fetched");
    let mut summary = Map::new();
    summary.insert("project".into(), json!(pid));
    summary.insert("media".into(), json!(ready.len()));
    summary.insert("frames".into(), json!(frames.len()));
    let training = args.training;
    tokio::task::spawn_blocking(move || train_and_write(&frames, &training, summary)).await?
}

#[cfg(test)]
mod tests {
    use super::evenly;

    #[test]
    fn evenly_takes_items_spread_over_the_whole_list() {
        assert_eq!(evenly((0..10).collect(), 4), vec![0, 2, 5, 7]);
        assert_eq!(evenly((0..3).collect(), 5), vec![0, 1, 2]);
        assert_eq!(evenly((0..7).collect(), 1), vec![0]);
        assert_eq!(evenly((0..6).collect(), 6), vec![0, 1, 2, 3, 4, 5]);
    }
}
