//! A media's annotations as the API shows and edits them, stored as one
//! [`atelier_detector::annotation::ops::Journal`] per media: the document, its operation log
//! and the undo/redo stacks, serialised whole in `studio_annotations` with its version. Every
//! write is a compare-and-set on that version, so two writers (or two nodes) never both win, and
//! undo, redo and `base_version` checks work the same after a restart.
//!
//! Inside the journal a label is named by its id (`"17"`): the project's labels live in
//! `studio_labels`, so renaming one changes no annotation.

use std::collections::BTreeSet;

use atelier_detector::{
    AnnotationError, Annotations, BBox, KeyFrame, Label as DocLabel, Shape, Track,
    annotation::{
        FrameBox,
        ops::{EntryKind, Journal, Op},
    },
};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use super::{Label, labels_of, media::get_visible};
use crate::{
    accounts::User,
    db::{Db, now_ms},
    error::{InputError, PlatformError, PlatformResult},
};

/// A box as `[x1, y1, x2, y2]` in frame pixels.
pub type BoxArray = [f64; 4];

/// A box on one frame (CVAT's "shape").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShapeView {
    /// Id, unique among the media's shapes and tracks (omit to have one assigned).
    #[serde(default)]
    pub id: Option<u64>,
    /// Frame number.
    pub frame: u32,
    /// The label.
    pub label_id: i64,
    /// `[x1, y1, x2, y2]`.
    #[serde(rename = "box")]
    #[schema(value_type = Vec<f64>)]
    pub bbox: BoxArray,
    /// Partly hidden.
    #[serde(default)]
    pub occluded: bool,
}

/// A key frame of a track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyframeView {
    /// Frame number.
    pub frame: u32,
    /// `[x1, y1, x2, y2]`.
    #[serde(rename = "box")]
    #[schema(value_type = Vec<f64>)]
    pub bbox: BoxArray,
    /// The object left the view here (hidden until the next key frame).
    #[serde(default)]
    pub outside: bool,
    /// Partly hidden.
    #[serde(default)]
    pub occluded: bool,
}

/// An object followed over frames: key frames, linear interpolation between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackView {
    /// Id, unique among the media's shapes and tracks (omit to have one assigned).
    #[serde(default)]
    pub id: Option<u64>,
    /// The label.
    pub label_id: i64,
    /// Key frames, by frame.
    pub keyframes: Vec<KeyframeView>,
}

/// Every annotation of a media.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AnnotationsView {
    /// The version these are at.
    pub version: u64,
    /// Boxes on single frames.
    pub shapes: Vec<ShapeView>,
    /// Tracks.
    pub tracks: Vec<TrackView>,
}

/// A box visible on one frame.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FrameBoxView {
    /// `shape` or `track`.
    pub source: &'static str,
    /// The shape's or track's id.
    pub id: u64,
    /// The label.
    pub label_id: i64,
    /// `[x1, y1, x2, y2]` (interpolated for a track between key frames).
    #[serde(rename = "box")]
    #[schema(value_type = Vec<f64>)]
    pub bbox: BoxArray,
    /// Partly hidden.
    pub occluded: bool,
    /// Whether the box is a key frame (shapes always are).
    pub keyframe: bool,
    /// The track is outside (hidden) on this frame: listed with the box it keeps so a client can
    /// show it greyed and bring it back in (CVAT's manner); always false for shapes.
    pub outside: bool,
}

/// The boxes of one frame.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FrameAnnotations {
    /// The version these are at.
    pub version: u64,
    /// The frame.
    pub frame: u32,
    /// Shapes on it, then tracks visible on it, then tracks outside on it (`outside: true`).
    pub boxes: Vec<FrameBoxView>,
}

/// One edit of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ApiOp {
    /// Create or replace a shape.
    PutShape {
        /// The shape.
        shape: ShapeView,
    },
    /// Delete a shape.
    DeleteShape {
        /// Its id.
        id: u64,
    },
    /// Create or replace a track.
    PutTrack {
        /// The track.
        track: TrackView,
    },
    /// Delete a track.
    DeleteTrack {
        /// Its id.
        id: u64,
    },
    /// Move a track's box on a frame (an interpolated frame becomes a key frame).
    SetBox {
        /// The track.
        track_id: u64,
        /// The frame.
        frame: u32,
        /// `[x1, y1, x2, y2]`.
        #[serde(rename = "box")]
        #[schema(value_type = Vec<f64>)]
        bbox: BoxArray,
    },
    /// Create or replace a key frame.
    PutKeyframe {
        /// The track.
        track_id: u64,
        /// The key frame.
        keyframe: KeyframeView,
    },
    /// Remove a key frame.
    DeleteKeyframe {
        /// The track.
        track_id: u64,
        /// The frame.
        frame: u32,
    },
}

/// A batch of edits against a version.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// The version the client edited; a stale one is 409 `version_conflict`.
    pub base_version: u64,
    /// Applied all-or-nothing, in order.
    pub ops: Vec<ApiOp>,
}

/// The version a write reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct VersionView {
    /// The new version.
    pub version: u64,
}

/// One batch of the log, as a client at an older version replays it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct BatchView {
    /// The version this batch reached.
    pub version: u64,
    /// `edit` (a batch a client sent, or an import), `undo` or `redo`.
    pub kind: &'static str,
    /// The operations as applied, in order (ids assigned, undo/redo as their inverse edits).
    pub ops: Vec<ApiOp>,
}

/// What changed after a version.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChangesView {
    /// The latest version.
    pub version: u64,
    /// Batches after the asked version, oldest first.
    pub batches: Vec<BatchView>,
}

fn bbox(b: BoxArray) -> BBox {
    BBox::new(b[0], b[1], b[2], b[3])
}

fn array(b: &BBox) -> BoxArray {
    [b.xtl, b.ytl, b.xbr, b.ybr]
}

fn label_id(name: &str) -> i64 {
    name.parse().unwrap_or(0)
}

/// The journal's view of a project's labels: named by id.
pub(crate) fn doc_labels(labels: &[Label]) -> Vec<DocLabel> {
    labels
        .iter()
        .map(|l| DocLabel::new(&l.id.to_string(), &l.color))
        .collect()
}

/// A journal annotation error as a coded refusal.
pub fn annotation_error(err: AnnotationError) -> PlatformError {
    let code = match &err {
        AnnotationError::UnknownLabel(_) => "unknown_label",
        AnnotationError::BoxOutsideFrame { .. } => "box_outside_frame",
        AnnotationError::DegenerateBox { .. } => "bad_box",
        AnnotationError::FrameOutOfRange { .. } => "frame_out_of_range",
        AnnotationError::UnknownShape(_) => "unknown_shape",
        AnnotationError::UnknownTrack(_) => "unknown_track",
        AnnotationError::NoKeyFrame { .. } => "no_keyframe",
        AnnotationError::EmptyTrack(_) => "empty_track",
        AnnotationError::IdInUse(_) => {
            return InputError::conflict("id_in_use", err.to_string()).into();
        }
        AnnotationError::NothingTo(what) => {
            let code = if *what == "undo" {
                "nothing_to_undo"
            } else {
                "nothing_to_redo"
            };
            return InputError::conflict(code, err.to_string()).into();
        }
        _ => "invalid_annotation",
    };
    let message = match &err {
        AnnotationError::UnknownLabel(id) => format!("unknown label id {id} in this project"),
        other => other.to_string(),
    };
    InputError::unprocessable(code, message).into()
}

/// Creates the empty journal of a just-imported media over its frames (kept when an earlier
/// attempt already made one).
pub(crate) async fn create_empty(
    db: &Db,
    media_id: i64,
    name: &str,
    labels: &[Label],
    frames: Vec<atelier_detector::Frame>,
) -> PlatformResult<()> {
    let doc = Annotations::new(name, doc_labels(labels), frames).map_err(annotation_error)?;
    let journal = Journal::new(doc).map_err(annotation_error)?;
    let text = serde_json::to_string(&journal).map_err(PlatformError::internal)?;
    sqlx::query(
        "INSERT INTO studio_annotations (media_id, version, journal, annotated_frames, updated_at) \
         VALUES ($1, 0, $2, 0, $3) ON CONFLICT (media_id) DO NOTHING",
    )
    .bind(media_id)
    .bind(text)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The stored journal of a media (404 `media not ready` before its import made one), with the
/// project's current labels.
pub async fn load(db: &Db, media_id: i64, project_id: i64) -> PlatformResult<Journal> {
    let row = sqlx::query("SELECT journal FROM studio_annotations WHERE media_id = $1")
        .bind(media_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| {
            PlatformError::from(InputError::conflict(
                "media_not_ready",
                "the media is not imported yet",
            ))
        })?;
    let text: String = row.try_get("journal")?;
    let mut journal: Journal = serde_json::from_str(&text).map_err(PlatformError::internal)?;
    journal.set_labels(doc_labels(&labels_of(db, project_id).await?));
    Ok(journal)
}

/// Stores `journal` if the stored version is still `expected` (409 `version_conflict` if
/// another writer got there first).
pub(crate) async fn save(
    db: &Db,
    media_id: i64,
    expected: u64,
    journal: &Journal,
) -> PlatformResult<()> {
    let text = serde_json::to_string(journal).map_err(PlatformError::internal)?;
    let annotated = journal.doc().annotated_frames().len() as i64;
    let updated = sqlx::query(
        "UPDATE studio_annotations SET version = $1, journal = $2, annotated_frames = $3, \
         updated_at = $4 WHERE media_id = $5 AND version = $6",
    )
    .bind(journal.version() as i64)
    .bind(text)
    .bind(annotated)
    .bind(now_ms())
    .bind(media_id)
    .bind(expected as i64)
    .execute(db.pool())
    .await?;
    if updated.rows_affected() != 1 {
        return Err(conflict());
    }
    Ok(())
}

fn conflict() -> PlatformError {
    InputError::conflict(
        "version_conflict",
        "the annotations changed since your version; fetch them again",
    )
    .into()
}

fn shape_view(s: &Shape) -> ShapeView {
    ShapeView {
        id: Some(s.id),
        frame: s.frame,
        label_id: label_id(&s.label),
        bbox: array(&s.bbox),
        occluded: s.occluded,
    }
}

fn track_view(t: &Track) -> TrackView {
    TrackView {
        id: Some(t.id),
        label_id: label_id(&t.label),
        keyframes: t
            .keyframes
            .iter()
            .map(|(&frame, k)| keyframe_view(frame, k))
            .collect(),
    }
}

fn keyframe_view(frame: u32, k: &KeyFrame) -> KeyframeView {
    KeyframeView {
        frame,
        bbox: array(&k.bbox),
        outside: k.outside,
        occluded: k.occluded,
    }
}

/// A journal operation in the API's terms.
fn api_op(op: &Op) -> ApiOp {
    match op {
        Op::PutShape(shape) => ApiOp::PutShape {
            shape: shape_view(shape),
        },
        Op::DeleteShape { id } => ApiOp::DeleteShape { id: *id },
        Op::PutTrack(track) => ApiOp::PutTrack {
            track: track_view(track),
        },
        Op::DeleteTrack { id } => ApiOp::DeleteTrack { id: *id },
        Op::PutKeyFrame {
            track,
            frame,
            keyframe,
        } => ApiOp::PutKeyframe {
            track_id: *track,
            keyframe: keyframe_view(*frame, keyframe),
        },
        Op::DeleteKeyFrame { track, frame } => ApiOp::DeleteKeyframe {
            track_id: *track,
            frame: *frame,
        },
        Op::SetBox { track, frame, bbox } => ApiOp::SetBox {
            track_id: *track,
            frame: *frame,
            bbox: array(bbox),
        },
    }
}

/// The batches applied after `version` (422 `unknown_version` past the latest): replaying
/// their operations in order brings a client at `version` to the latest.
pub async fn since(
    db: &Db,
    viewer: &User,
    media_id: i64,
    version: u64,
) -> PlatformResult<ChangesView> {
    let media = get_visible(db, viewer, media_id).await?;
    let journal = load(db, media_id, media.project_id).await?;
    let latest = journal.version();
    if version > latest {
        return Err(InputError::unprocessable(
            "unknown_version",
            format!("version {version} is past the latest, {latest}"),
        )
        .into());
    }
    let batches = journal
        .since(version)
        .iter()
        .map(|entry| BatchView {
            version: entry.version,
            kind: match entry.kind {
                EntryKind::Edit => "edit",
                EntryKind::Undo(_) => "undo",
                EntryKind::Redo(_) => "redo",
            },
            ops: entry.ops.iter().map(api_op).collect(),
        })
        .collect();
    Ok(ChangesView {
        version: latest,
        batches,
    })
}

/// Every annotation of a media `viewer` sees.
pub async fn get(db: &Db, viewer: &User, media_id: i64) -> PlatformResult<AnnotationsView> {
    let media = get_visible(db, viewer, media_id).await?;
    let journal = load(db, media_id, media.project_id).await?;
    let doc = journal.doc();
    Ok(AnnotationsView {
        version: journal.version(),
        shapes: doc.shapes.values().map(shape_view).collect(),
        tracks: doc.tracks.values().map(track_view).collect(),
    })
}

/// The boxes on one frame (tracks interpolated): the visible ones, then the tracks outside there
/// with `outside: true` (the box they keep).
pub async fn on_frame(
    db: &Db,
    viewer: &User,
    media_id: i64,
    frame: u32,
) -> PlatformResult<FrameAnnotations> {
    let media = get_visible(db, viewer, media_id).await?;
    let journal = load(db, media_id, media.project_id).await?;
    let doc = journal.doc();
    doc.frame(frame).map_err(annotation_error)?;
    let view = |b: FrameBox, outside: bool| FrameBoxView {
        source: if b.tracked { "track" } else { "shape" },
        id: b.id,
        label_id: label_id(&b.label),
        bbox: array(&b.bbox),
        occluded: b.occluded,
        keyframe: b.keyframe,
        outside,
    };
    let boxes = doc
        .boxes_on(frame)
        .into_iter()
        .map(|b| view(b, false))
        .chain(
            doc.hidden_tracks_on(frame)
                .into_iter()
                .map(|b| view(b, true)),
        )
        .collect();
    Ok(FrameAnnotations {
        version: journal.version(),
        frame,
        boxes,
    })
}

fn keyframe(k: &KeyframeView) -> KeyFrame {
    KeyFrame {
        outside: k.outside,
        occluded: k.occluded,
        ..KeyFrame::visible(bbox(k.bbox))
    }
}

/// API operations as journal operations; shapes and tracks without an id get fresh ones.
fn to_ops(doc: &Annotations, ops: Vec<ApiOp>) -> Vec<Op> {
    let mut next = doc.next_id();
    let mut fresh = || {
        next += 1;
        next - 1
    };
    ops.into_iter()
        .map(|op| match op {
            ApiOp::PutShape { shape } => Op::PutShape(Shape {
                id: shape.id.unwrap_or_else(&mut fresh),
                label: shape.label_id.to_string(),
                frame: shape.frame,
                bbox: bbox(shape.bbox),
                occluded: shape.occluded,
                z_order: 0,
                source: "manual".into(),
                attributes: Default::default(),
            }),
            ApiOp::DeleteShape { id } => Op::DeleteShape { id },
            ApiOp::PutTrack { track } => Op::PutTrack(Track {
                id: track.id.unwrap_or_else(&mut fresh),
                label: track.label_id.to_string(),
                source: "manual".into(),
                attributes: Default::default(),
                keyframes: track
                    .keyframes
                    .iter()
                    .map(|k| (k.frame, keyframe(k)))
                    .collect(),
            }),
            ApiOp::DeleteTrack { id } => Op::DeleteTrack { id },
            ApiOp::SetBox {
                track_id,
                frame,
                bbox: b,
            } => Op::SetBox {
                track: track_id,
                frame,
                bbox: bbox(b),
            },
            ApiOp::PutKeyframe {
                track_id,
                keyframe: k,
            } => Op::PutKeyFrame {
                track: track_id,
                frame: k.frame,
                keyframe: keyframe(&k),
            },
            ApiOp::DeleteKeyframe { track_id, frame } => Op::DeleteKeyFrame {
                track: track_id,
                frame,
            },
        })
        .collect()
}

/// How a write changes the journal.
enum Write {
    Batch(Batch),
    Undo,
    Redo,
}

async fn write(db: &Db, viewer: &User, media_id: i64, what: Write) -> PlatformResult<VersionView> {
    let media = get_visible(db, viewer, media_id).await?;
    let mut journal = load(db, media_id, media.project_id).await?;
    let before = journal.version();
    let version = match what {
        Write::Batch(batch) => {
            if batch.base_version != before {
                return Err(conflict());
            }
            if batch.ops.is_empty() {
                return Ok(VersionView { version: before });
            }
            let ops = to_ops(journal.doc(), batch.ops);
            journal.apply(ops)
        }
        Write::Undo => journal.undo(),
        Write::Redo => journal.redo(),
    }
    .map_err(annotation_error)?;
    save(db, media_id, before, &journal).await?;
    Ok(VersionView { version })
}

/// Applies a batch all-or-nothing (409 `version_conflict` when `base_version` is stale).
pub async fn apply(
    db: &Db,
    viewer: &User,
    media_id: i64,
    batch: Batch,
) -> PlatformResult<VersionView> {
    write(db, viewer, media_id, Write::Batch(batch)).await
}

/// Reverts the latest edit not yet undone (409 `nothing_to_undo`).
pub async fn undo(db: &Db, viewer: &User, media_id: i64) -> PlatformResult<VersionView> {
    write(db, viewer, media_id, Write::Undo).await
}

/// Re-applies the latest undone edit (409 `nothing_to_redo`).
pub async fn redo(db: &Db, viewer: &User, media_id: i64) -> PlatformResult<VersionView> {
    write(db, viewer, media_id, Write::Redo).await
}

/// Whether any annotation of the project's media uses `label_id`.
pub(crate) async fn label_in_use(db: &Db, project_id: i64, label_id: i64) -> PlatformResult<bool> {
    let rows = sqlx::query(
        "SELECT a.journal FROM studio_annotations a JOIN studio_media m ON m.id = a.media_id \
         WHERE m.project_id = $1",
    )
    .bind(project_id)
    .fetch_all(db.pool())
    .await?;
    let name = label_id.to_string();
    for row in rows {
        let text: String = row.try_get("journal")?;
        let journal: Journal = serde_json::from_str(&text).map_err(PlatformError::internal)?;
        let doc = journal.doc();
        if doc.shapes.values().any(|s| s.label == name)
            || doc.tracks.values().any(|t| t.label == name)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// How many times [`add_shape`] re-reads the journal when another writer saved in between.
const ADD_SHAPE_ATTEMPTS: usize = 5;

/// Adds one shape to a media's journal as one undoable edit, whatever its current version
/// (the caller is not editing from a version it read: an accepted proposal). `source` says who
/// made it (`auto` for a detector's proposal). Returns the version reached and the shape's id.
pub(crate) async fn add_shape(
    db: &Db,
    media_id: i64,
    project_id: i64,
    shape: &ShapeView,
    source: &str,
) -> PlatformResult<(u64, u64)> {
    for _ in 0..ADD_SHAPE_ATTEMPTS {
        let mut journal = load(db, media_id, project_id).await?;
        let before = journal.version();
        let id = journal.doc().next_id();
        let op = Op::PutShape(Shape {
            id,
            label: shape.label_id.to_string(),
            frame: shape.frame,
            bbox: bbox(shape.bbox),
            occluded: shape.occluded,
            z_order: 0,
            source: source.into(),
            attributes: Default::default(),
        });
        let version = journal.apply(vec![op]).map_err(annotation_error)?;
        match save(db, media_id, before, &journal).await {
            Ok(()) => return Ok((version, id)),
            Err(PlatformError::Input(err)) if err.code == "version_conflict" => continue,
            Err(err) => return Err(err),
        }
    }
    Err(conflict())
}

/// Frames of a media on which some box is visible (a shape, or a track's key or interpolated
/// box), as of the stored journal.
pub(crate) async fn frames_with_boxes(
    db: &Db,
    media_id: i64,
    project_id: i64,
    frame_count: u32,
) -> PlatformResult<BTreeSet<u32>> {
    let journal = load(db, media_id, project_id).await?;
    let doc = journal.doc();
    Ok((0..frame_count)
        .filter(|&f| !doc.boxes_on(f).is_empty())
        .collect())
}
