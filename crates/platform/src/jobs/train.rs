//! The `train` job kind: a detector for a studio project. It gathers the annotated frames (key
//! frames and shapes, with every box visible there) of the project's ready media, splits them
//! 90/10 by video (a single video is split by frame: every tenth frame is evaluated), runs the
//! frozen EfficientNet-Lite0 trunk from the models service over them (plus one augmented copy
//! of each training frame), trains the CenterNet head with `atelier_detector::train`, pushes
//! `{epoch, epochs, loss, eval_map50}` with the job progress after every epoch, and stores the
//! head, its metrics, PR curves and history as a detector of the project. With
//! `base_detector_id` it fine-tunes: the head starts from that detector's (its classes matched
//! to the project's current labels by id; a label added since starts fresh), which is kept if
//! no epoch beats it on the eval split.
//!
//! Refusals at creation: nothing annotated (400 `no_annotations`), a training already queued or
//! running for the project (409 `training_running`, made atomic with the insert by the unique
//! partial index `jobs_one_training_per_project`), a project without labels (422). Idempotent:
//! a retried attempt trains again and the detector is stored once per job.

use std::time::{Duration, Instant};

use atelier_detector::{
    BBox,
    synth::Rng,
    train::{self, Example, Sample, TrainParams as EngineParams, head::Head},
};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{JobContext, JobFailure, JobKind};
use crate::{
    Platform, PlatformError, PlatformResult,
    accounts::User,
    error::InputError,
    events::{Event, JOB_PROGRESS_EVENT, user_channel},
    studio::{
        self, Label,
        annotations::load,
        detectors::{self, EpochView, Metrics, NewDetector},
        media::frame_key,
    },
};

/// Trains a detector for a project.
#[derive(Debug, Clone, Copy, Default)]
pub struct Train;

/// The `train` job's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainParams {
    /// The project (set from the path by the route).
    #[serde(default)]
    pub project_id: i64,
    /// Wall-clock budget of the epochs, 1–3600 s (default 240).
    #[serde(default)]
    pub time_budget_secs: Option<u64>,
    /// Most epochs, 1–200 (default 40).
    #[serde(default)]
    pub max_epochs: Option<usize>,
    /// A previous detector of the project to fine-tune from (its head is the start).
    #[serde(default)]
    pub base_detector_id: Option<i64>,
}

/// The `train` job's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutput {
    /// The stored detector.
    pub detector_id: i64,
    /// Eval mAP@0.5.
    pub map50: Option<f64>,
    /// Epochs run.
    pub epochs: usize,
}

/// Total annotated frames over the project's ready media.
async fn annotated_frames(platform: &Platform, project_id: i64) -> PlatformResult<i64> {
    let row = sqlx::query(
        "SELECT CAST(SUM(a.annotated_frames) AS BIGINT) AS n FROM studio_annotations a \
         JOIN studio_media m ON m.id = a.media_id WHERE m.project_id = $1 AND m.status = 'ready'",
    )
    .bind(project_id)
    .fetch_one(platform.db().pool())
    .await?;
    Ok(sqlx::Row::try_get::<Option<i64>, _>(&row, "n")?.unwrap_or(0))
}

impl JobKind for Train {
    const KIND: &'static str = "train";
    type Params = TrainParams;
    type Output = TrainOutput;

    fn prepare<'a>(
        &'a self,
        platform: &'a Platform,
        owner: &'a User,
        params: TrainParams,
    ) -> BoxFuture<'a, PlatformResult<TrainParams>> {
        Box::pin(async move {
            let db = platform.db();
            studio::visible_project(db, owner, params.project_id).await?;
            if params
                .time_budget_secs
                .is_some_and(|s| !(1..=3600).contains(&s))
            {
                return Err(PlatformError::Invalid(
                    "time_budget_secs must be 1–3600".into(),
                ));
            }
            if params.max_epochs.is_some_and(|e| !(1..=200).contains(&e)) {
                return Err(PlatformError::Invalid("max_epochs must be 1–200".into()));
            }
            if let Some(base) = params.base_detector_id {
                let detector = detectors::get(db, owner, base).await?;
                if detector.project_id != params.project_id {
                    return Err(PlatformError::NotFound("detector"));
                }
            }
            if studio::labels_of(db, params.project_id).await?.is_empty() {
                return Err(PlatformError::Invalid("the project has no labels".into()));
            }
            if annotated_frames(platform, params.project_id).await? == 0 {
                return Err(InputError::bad_request(
                    "no_annotations",
                    "no frame of a ready media is annotated: draw some boxes first",
                )
                .into());
            }
            if let Some(running) = studio::active_training(db, params.project_id).await? {
                return Err(InputError::conflict(
                    "training_running",
                    format!(
                        "the project is already training (job {}); wait for it or cancel it",
                        running.job_id
                    ),
                )
                .into());
            }
            // The check above is for the message; the insert itself is refused by the
            // `jobs_one_training_per_project` unique index when another request got there in
            // between (see `active_conflict`).
            platform
                .pause_points()
                .pass(crate::pause::PausePoint::TrainCheckedBeforeInsert)
                .await;
            Ok(params)
        })
    }

    fn active_conflict(&self) -> PlatformError {
        InputError::conflict(
            "training_running",
            "the project is already training; wait for it or cancel it",
        )
        .into()
    }

    fn run(
        &self,
        ctx: JobContext,
        params: TrainParams,
    ) -> BoxFuture<'static, Result<TrainOutput, JobFailure>> {
        Box::pin(async move { run(ctx, params).await })
    }
}

/// The annotated frames of a project: examples and their video (media index).
async fn gather(
    platform: &Platform,
    project_id: i64,
    labels: &[Label],
) -> Result<(Vec<Example>, Vec<usize>), JobFailure> {
    let db = platform.db();
    let media_ids: Vec<i64> = sqlx::query(
        "SELECT id FROM studio_media WHERE project_id = $1 AND status = 'ready' ORDER BY id",
    )
    .bind(project_id)
    .fetch_all(db.pool())
    .await
    .map_err(PlatformError::from)?
    .iter()
    .map(|r| sqlx::Row::try_get::<i64, _>(r, "id"))
    .collect::<Result<_, _>>()
    .map_err(PlatformError::from)?;
    let (mut examples, mut groups) = (Vec::new(), Vec::new());
    for (group, media_id) in media_ids.into_iter().enumerate() {
        let journal = match load(db, media_id, project_id).await {
            Ok(journal) => journal,
            Err(PlatformError::Input(_)) => continue,
            Err(err) => return Err(err.into()),
        };
        let doc = journal.doc();
        for frame in doc.annotated_frames() {
            let boxes: Vec<(usize, BBox)> = doc
                .boxes_on(frame)
                .into_iter()
                .filter_map(|b| {
                    let id: i64 = b.label.parse().ok()?;
                    let class = labels.iter().position(|l| l.id == id)?;
                    Some((class, b.bbox))
                })
                .collect();
            let jpeg = platform
                .storage()
                .get_bytes(&frame_key(media_id, i64::from(frame)))
                .await?;
            let image = image::load_from_memory(&jpeg)
                .map_err(|err| JobFailure::abort("bad-frame", err.to_string()))?
                .into_rgb8();
            examples.push(Example { image, boxes });
            groups.push(group);
        }
    }
    Ok((examples, groups))
}

/// The head of the detector to fine-tune from, its classes mapped onto `labels` by label id.
async fn base_head(
    platform: &Platform,
    base: Option<i64>,
    labels: &[Label],
) -> Result<Option<Head>, JobFailure> {
    let Some(id) = base else {
        return Ok(None);
    };
    let detector = match detectors::get_any(platform.db(), id).await {
        Ok(detector) => detector,
        Err(PlatformError::NotFound(_)) => {
            return Err(JobFailure::abort(
                "base_detector_gone",
                format!("detector {id} was deleted since the training was queued"),
            ));
        }
        Err(err) => return Err(err.into()),
    };
    let loaded = detectors::load_head(platform, &detector).await?;
    let mapping: Vec<Option<usize>> = labels
        .iter()
        .map(|l| loaded.label_ids.iter().position(|&id| id == l.id))
        .collect();
    let mut rng = Rng::new(id as u64);
    Ok(Some(loaded.head.with_classes(&mapping, &mut rng)))
}

/// Train/eval indices: 90/10 by video, or every tenth frame of a single video.
fn split(groups: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let distinct = groups
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if distinct >= 2 {
        return train::split_by_group(groups, 0.1, 7);
    }
    if groups.len() < 5 {
        return ((0..groups.len()).collect(), Vec::new());
    }
    (0..groups.len()).partition(|i| i % 10 != 9)
}

fn publish_epoch(ctx: &JobContext, percent: u8, stats: &train::EpochStats, epochs: usize) {
    let data = serde_json::json!({
        "job_id": ctx.job.id,
        "kind": Train::KIND,
        "status": "running",
        "progress": percent,
        "stage": "train",
        "epoch": stats.epoch,
        "epochs": epochs,
        "loss": stats.loss,
        "eval_map50": stats.map50,
    });
    ctx.platform.events().publish_in_order(Event {
        channels: vec![user_channel(ctx.job.owner_id)],
        name: JOB_PROGRESS_EVENT.into(),
        data: data.to_string(),
        except: None,
        user_id: None,
    });
}

async fn run(ctx: JobContext, params: TrainParams) -> Result<TrainOutput, JobFailure> {
    let started = Instant::now();
    let platform = ctx.platform.clone();
    ctx.progress.report(2, "gather");
    let labels = studio::labels_of(platform.db(), params.project_id).await?;
    let (examples, groups) = gather(&platform, params.project_id, &labels).await?;
    if examples.iter().all(|e| e.boxes.is_empty()) {
        return Err(JobFailure::abort(
            "no_annotations",
            "no annotated frame to train on",
        ));
    }
    ctx.progress.report(5, "backbone");
    let backbone = platform
        .models()
        .studio_backbone()
        .await
        .map_err(|err| JobFailure::retry("model-unavailable", err.to_string()))?;
    let base = base_head(&platform, params.base_detector_id, &labels).await?;
    let epochs = params.max_epochs.unwrap_or(40);
    let engine = EngineParams {
        epochs,
        time_budget: Duration::from_secs(params.time_budget_secs.unwrap_or(240)),
        ..EngineParams::default()
    };
    let classes = labels.len();
    let (train_idx, eval_idx) = split(&groups);
    let (train_frames, eval_frames) = (train_idx.len() as i64, eval_idx.len() as i64);
    let blocking_ctx = ctx.clone();
    let trained = tokio::task::spawn_blocking(move || -> Result<_, JobFailure> {
        let ctx = blocking_ctx;
        let total = train_idx.len() * (1 + engine.augment_copies) + eval_idx.len();
        let mut done = 0usize;
        let mut rng = Rng::new(engine.seed);
        let mut run_one = |example: &Example| -> Result<Sample, JobFailure> {
            if ctx.progress.is_canceled() {
                return Err(JobFailure::abort("canceled", "the job was canceled"));
            }
            let mut guard = backbone
                .0
                .lock()
                .map_err(|_| JobFailure::abort("internal", "the backbone is poisoned"))?;
            let sample = train::sample(&mut guard, example)
                .map_err(|err| JobFailure::abort("backbone", err.to_string()))?;
            done += 1;
            ctx.progress
                .report((5 + done * 35 / total.max(1)) as u8, "features");
            Ok(sample)
        };
        let mut train_samples = Vec::new();
        for &i in &train_idx {
            train_samples.push(run_one(&examples[i])?);
            for _ in 0..engine.augment_copies {
                let augmented = train::augment(&examples[i], &mut rng);
                train_samples.push(run_one(&augmented)?);
            }
        }
        let eval_samples = eval_idx
            .iter()
            .map(|&i| run_one(&examples[i]))
            .collect::<Result<Vec<_>, _>>()?;
        let mut on_epoch = |stats: &train::EpochStats| {
            let percent = (40 + stats.epoch * 55 / epochs.max(1)).min(95) as u8;
            ctx.progress.report(percent, "train");
            publish_epoch(&ctx, percent, stats, epochs);
            !ctx.progress.is_canceled()
        };
        train::train_from(
            base,
            &train_samples,
            &eval_samples,
            classes,
            &engine,
            &mut on_epoch,
        )
        .map_err(|err| match err {
            train::TrainError::NoAnnotations => {
                JobFailure::abort("no_annotations", err.to_string())
            }
            train::TrainError::Canceled => JobFailure::abort("canceled", err.to_string()),
            other => JobFailure::abort("training-failed", other.to_string()),
        })
    })
    .await
    .map_err(|err| JobFailure::abort("panic", err.to_string()))??;
    ctx.progress.report(97, "store");
    let detector = detectors::store(
        platform.db(),
        &NewDetector {
            project_id: params.project_id,
            base_detector_id: params.base_detector_id,
            job_id: ctx.job.id.clone(),
            metrics: Metrics::of(trained.evaluation.as_ref(), &labels),
            labels,
            history: trained.history.iter().map(EpochView::from).collect(),
            head: trained.head,
            train_frames,
            eval_frames,
            training_secs: started.elapsed().as_secs_f64(),
        },
    )
    .await?;
    // A cancel that landed while the detector was stored takes it back (what slips past this
    // check is the housekeeping sweep's: `detectors::delete_of_canceled_jobs`).
    if ctx.lease().await? == super::queue::LeaseState::Gone {
        detectors::delete_of_canceled_jobs(platform.db()).await?;
        return Err(JobFailure::abort("canceled", "the job was canceled"));
    }
    Ok(TrainOutput {
        detector_id: detector.id,
        map50: detector.metrics.map50,
        epochs: trained.history.len(),
    })
}
