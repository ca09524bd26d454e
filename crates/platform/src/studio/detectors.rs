//! Trained detectors of a project: what the `train` job stores (the head's weights, the label
//! map, the eval metrics with PR curves, the per-epoch history) and how a stored detector finds
//! objects in an image (the shared backbone, then the head, boxes back in image pixels); and
//! the download of a detector as a zip with one ONNX model ([`package`]).

use std::sync::Arc;

use atelier_detector::export::{self, LabelMap};
use atelier_detector::{
    BBox,
    eval::{Evaluation, recall_thresholds},
    train::{EpochStats, decode, head::Head},
};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use sqlx::{Row, any::AnyRow};
use utoipa::ToSchema;

use super::{Label, visible_project};
use crate::{
    Platform,
    accounts::User,
    db::{Db, now_ms},
    error::{PlatformError, PlatformResult},
    models::studio::{BACKBONE_HEIGHT, BACKBONE_WIDTH, LoadedDetector, SharedBackbone},
};

/// Metrics of one label on the eval split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabelMetricsView {
    /// The label.
    pub label_id: i64,
    /// Its name at training time.
    pub name: String,
    /// AP at IoU 0.5 (`null` without ground truth).
    pub ap50: Option<f64>,
    /// AP over IoU 0.50:0.95.
    pub ap: Option<f64>,
    /// Recall at IoU 0.5.
    pub recall: Option<f64>,
    /// `[recall, precision]` at COCO's 101 recall points, IoU 0.5.
    #[schema(value_type = Vec<Vec<f64>>)]
    pub pr_curve: Vec<[f64; 2]>,
}

/// A detector's eval metrics (pycocotools' numbers).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct Metrics {
    /// mAP@0.5 (`null` without an eval split).
    pub map50: Option<f64>,
    /// mAP@[.5:.95].
    pub map: Option<f64>,
    /// Per label.
    pub per_label: Vec<LabelMetricsView>,
}

impl Metrics {
    /// The metrics of an evaluation, labels by class index.
    pub fn of(evaluation: Option<&Evaluation>, labels: &[Label]) -> Self {
        let Some(e) = evaluation else {
            return Self::default();
        };
        let recalls = recall_thresholds();
        Self {
            map50: e.map50,
            map: e.map,
            per_label: e
                .labels
                .iter()
                .filter_map(|l| {
                    let label = labels.get(l.label)?;
                    Some(LabelMetricsView {
                        label_id: label.id,
                        name: label.name.clone(),
                        ap50: l.ap50,
                        ap: l.ap,
                        recall: l.recall50,
                        pr_curve: recalls
                            .iter()
                            .zip(&l.precision50)
                            .map(|(&r, &p)| [r, p])
                            .collect(),
                    })
                })
                .collect(),
        }
    }
}

/// One epoch of a training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EpochView {
    /// From 1.
    pub epoch: usize,
    /// Mean training loss per object.
    pub loss: f64,
    /// Eval mAP@0.5 after the epoch.
    pub eval_map50: Option<f64>,
}

impl From<&EpochStats> for EpochView {
    fn from(s: &EpochStats) -> Self {
        Self {
            epoch: s.epoch,
            loss: s.loss,
            eval_map50: s.map50,
        }
    }
}

/// A trained detector.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Detector {
    /// Numeric id.
    pub id: i64,
    /// The project.
    pub project_id: i64,
    /// Display name.
    pub name: String,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// The `train` job that made it.
    pub job_id: String,
    /// The detector it was fine-tuned from, if any.
    pub base_detector_id: Option<i64>,
    /// Its classes, in class order, as they were at training time.
    pub labels: Vec<Label>,
    /// Eval metrics.
    pub metrics: Metrics,
    /// Per-epoch loss and eval mAP@0.5.
    pub history: Vec<EpochView>,
    /// Frames trained on.
    pub train_frames: i64,
    /// Frames evaluated on.
    pub eval_frames: i64,
    /// Training time, seconds.
    pub training_secs: f64,
}

/// What a training stores.
#[derive(Debug, Clone)]
pub struct NewDetector {
    /// The project.
    pub project_id: i64,
    /// The detector it was fine-tuned from.
    pub base_detector_id: Option<i64>,
    /// The `train` job.
    pub job_id: String,
    /// Classes.
    pub labels: Vec<Label>,
    /// Eval metrics.
    pub metrics: Metrics,
    /// Per-epoch figures.
    pub history: Vec<EpochView>,
    /// The head.
    pub head: Head,
    /// Frames trained on.
    pub train_frames: i64,
    /// Frames evaluated on.
    pub eval_frames: i64,
    /// Seconds.
    pub training_secs: f64,
}

const COLUMNS: &str = "id, project_id, name, created_at, job_id, base_detector_id, labels, \
                       metrics, history, train_frames, eval_frames, training_ms";

fn json<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &str) -> PlatformResult<T> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(PlatformError::internal)
}

fn detector_row(row: &AnyRow) -> PlatformResult<Detector> {
    Ok(Detector {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        job_id: row.try_get("job_id")?,
        base_detector_id: row.try_get("base_detector_id")?,
        labels: json(row, "labels")?,
        metrics: json(row, "metrics")?,
        history: json(row, "history")?,
        train_frames: row.try_get("train_frames")?,
        eval_frames: row.try_get("eval_frames")?,
        training_secs: row.try_get::<i64, _>("training_ms")? as f64 / 1000.0,
    })
}

fn to_text(value: &impl Serialize) -> PlatformResult<String> {
    serde_json::to_string(value).map_err(PlatformError::internal)
}

/// Stores a trained detector (once per job: a retried job finds its detector).
pub async fn store(db: &Db, new: &NewDetector) -> PlatformResult<Detector> {
    let number = super::count(
        db,
        "SELECT COUNT(*) FROM studio_detectors WHERE project_id = $1",
        new.project_id,
    )
    .await?
        + 1;
    sqlx::query(
        "INSERT INTO studio_detectors (project_id, name, job_id, labels, metrics, history, head, \
         train_frames, eval_frames, training_ms, created_at, base_detector_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (job_id) DO NOTHING",
    )
    .bind(new.project_id)
    .bind(format!("Detector {number}"))
    .bind(&new.job_id)
    .bind(to_text(&new.labels)?)
    .bind(to_text(&new.metrics)?)
    .bind(to_text(&new.history)?)
    .bind(to_text(&new.head)?)
    .bind(new.train_frames)
    .bind(new.eval_frames)
    .bind((new.training_secs * 1000.0).round() as i64)
    .bind(now_ms())
    .bind(new.base_detector_id)
    .execute(db.pool())
    .await?;
    let sql = format!("SELECT {COLUMNS} FROM studio_detectors WHERE job_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&new.job_id)
        .fetch_one(db.pool())
        .await?;
    detector_row(&row)
}

/// The detectors of a project, newest first.
pub async fn list(db: &Db, viewer: &User, project_id: i64) -> PlatformResult<Vec<Detector>> {
    visible_project(db, viewer, project_id).await?;
    let sql =
        format!("SELECT {COLUMNS} FROM studio_detectors WHERE project_id = $1 ORDER BY id DESC");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(project_id)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(detector_row).collect()
}

/// A detector by id, whoever may see it (for jobs, whose access was checked at creation).
pub async fn get_any(db: &Db, id: i64) -> PlatformResult<Detector> {
    let sql = format!("SELECT {COLUMNS} FROM studio_detectors WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(PlatformError::NotFound("detector"))?;
    detector_row(&row)
}

/// A detector `viewer` may see (404 otherwise, whether it exists or not).
pub async fn get(db: &Db, viewer: &User, id: i64) -> PlatformResult<Detector> {
    let detector = get_any(db, id).await?;
    visible_project(db, viewer, detector.project_id)
        .await
        .map_err(|err| match err {
            PlatformError::NotFound(_) => PlatformError::NotFound("detector"),
            other => other,
        })?;
    Ok(detector)
}

/// Deletes a detector.
pub async fn delete(db: &Db, viewer: &User, id: i64) -> PlatformResult<()> {
    get(db, viewer, id).await?;
    sqlx::query("DELETE FROM studio_detectors WHERE id = $1")
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Deletes the detectors of canceled `train` jobs (a cancel that landed after the training
/// stored its detector, before the job ended); how many went.
pub async fn delete_of_canceled_jobs(db: &Db) -> PlatformResult<u64> {
    let deleted = sqlx::query(
        "DELETE FROM studio_detectors WHERE job_id IN \
         (SELECT id FROM jobs WHERE status = 'canceled')",
    )
    .execute(db.pool())
    .await?;
    Ok(deleted.rows_affected())
}

/// The head of detector `id` as served, loaded once per process (after an access check).
pub async fn loaded(
    platform: &Platform,
    viewer: &User,
    id: i64,
) -> PlatformResult<(Detector, Arc<LoadedDetector>)> {
    let detector = get(platform.db(), viewer, id).await?;
    let loaded = load_head(platform, &detector).await?;
    Ok((detector, loaded))
}

/// The head of `detector` as served, loaded once per process (no access check: the caller
/// made it).
pub async fn load_head(
    platform: &Platform,
    detector: &Detector,
) -> PlatformResult<Arc<LoadedDetector>> {
    let id = detector.id;
    let db = platform.db().clone();
    let labels = detector.labels.clone();
    platform
        .models()
        .studio_detector(id, || async move {
            let row = sqlx::query("SELECT head FROM studio_detectors WHERE id = $1")
                .bind(id)
                .fetch_one(db.pool())
                .await?;
            let head: Head = json(&row, "head")?;
            Ok::<_, PlatformError>(LoadedDetector {
                head,
                labels: labels.iter().map(|l| l.name.clone()).collect(),
                label_ids: labels.iter().map(|l| l.id).collect(),
            })
        })
        .await
}

/// One object a detector found.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Found {
    /// The label's id.
    pub label_id: i64,
    /// The label's name.
    pub label: String,
    /// Confidence in `[0, 1]`.
    pub score: f32,
    /// The box in image pixels, clipped to the image.
    #[serde(skip)]
    #[schema(ignore)]
    pub bbox: BBox,
}

/// Runs a detector on an image (blocking: the backbone, then the head), boxes above
/// `min_score` in image pixels, best first.
pub fn detect_blocking(
    backbone: &SharedBackbone,
    detector: &LoadedDetector,
    image: &RgbImage,
    min_score: f32,
) -> PlatformResult<Vec<Found>> {
    let (features, scale) = {
        let mut backbone = backbone
            .0
            .lock()
            .map_err(|_| PlatformError::Internal("the detector backbone is poisoned".into()))?;
        let scale = backbone.scale_for(image.width(), image.height());
        let features = backbone
            .features(image)
            .map_err(|err| PlatformError::Internal(err.to_string()))?;
        (features, scale)
    };
    let found = decode(&detector.head, &features, min_score, 100);
    Ok(
        export::to_image(found, scale, image.width(), image.height())
            .into_iter()
            .map(|(class, bbox, score)| Found {
                label_id: detector.label_ids.get(class).copied().unwrap_or(0),
                label: detector.labels.get(class).cloned().unwrap_or_default(),
                score,
                bbox,
            })
            .collect(),
    )
}

/// The files of a detector's download, in zip order: `detector.onnx` (the backbone's graph, the
/// feature composition and the head in one model, `atelier_detector::export`), `labels.json`
/// (the label map and input size), `metrics.json`, `README.md` (inputs, outputs, decoding) and
/// `decode.py` (the reference decoding with onnxruntime). Blocking (the export copies the
/// backbone's weights).
pub fn package_files(
    detector: &Detector,
    head: &Head,
    backbone_onnx: &[u8],
) -> PlatformResult<Vec<(&'static str, Vec<u8>)>> {
    let onnx = export::detector_onnx(backbone_onnx, head, BACKBONE_WIDTH, BACKBONE_HEIGHT)
        .map_err(PlatformError::internal)?;
    let labels: Vec<(i64, String, String)> = detector
        .labels
        .iter()
        .map(|l| (l.id, l.name.clone(), l.color.clone()))
        .collect();
    let map = LabelMap::new(&labels, BACKBONE_WIDTH, BACKBONE_HEIGHT);
    Ok(vec![
        ("detector.onnx", onnx),
        ("labels.json", pretty(&map)?),
        ("metrics.json", pretty(&detector.metrics)?),
        (
            "README.md",
            export::readme(&detector.name, detector.project_id, detector.id, &map).into_bytes(),
        ),
        ("decode.py", export::DECODE_PY.as_bytes().to_vec()),
    ])
}

fn pretty<T: Serialize>(value: &T) -> PlatformResult<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(PlatformError::internal)
}

/// A detector's download: the zip of [`package_files`] (blocking work on a worker thread).
/// The caller has checked access ([`loaded`]) and fetched the backbone's ONNX bytes
/// (`Models::studio_backbone_onnx`).
pub async fn package(
    detector: Detector,
    head: Head,
    backbone_onnx: Vec<u8>,
) -> PlatformResult<Vec<u8>> {
    tokio::task::spawn_blocking(move || {
        let files = package_files(&detector, &head, &backbone_onnx)?;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (path, bytes) in files {
            zip.start_file(path, options)
                .map_err(PlatformError::internal)?;
            std::io::Write::write_all(&mut zip, &bytes)?;
        }
        Ok(zip.finish().map_err(PlatformError::internal)?.into_inner())
    })
    .await?
}
