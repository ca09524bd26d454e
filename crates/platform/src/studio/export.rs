//! A project's annotations exported as a zip in one of CVAT's formats: one folder per ready
//! media (`media-{id}/`) holding what CVAT's own export of that task holds (CVAT for video or
//! images 1.1 `annotations.xml`, COCO 1.0 `annotations/instances_default.json`, YOLO 1.1 or
//! Pascal VOC files), or one media's files alone. Labels carry their names and colours, not the
//! ids the journal uses.

use std::io::Write;

use atelier_detector::{
    Annotations, Label as DocLabel,
    formats::{ExportFile, coco, cvat_images, cvat_video, voc, yolo},
};
use sqlx::Row;

use super::{Label, annotations::load, labels_of, media::get_visible, visible_project};
use crate::{
    Platform,
    accounts::User,
    error::{InputError, PlatformError, PlatformResult},
};

/// The export formats, as named in `?format=`.
pub const FORMATS: [&str; 5] = ["cvat_video", "cvat_images", "coco", "yolo", "voc"];

/// A media's document with label names in place of label ids.
fn named(doc: &Annotations, labels: &[Label]) -> Annotations {
    let name_of = |id: &str| {
        labels
            .iter()
            .find(|l| l.id.to_string() == id)
            .map_or_else(|| id.to_owned(), |l| l.name.clone())
    };
    let mut doc = doc.clone();
    doc.labels = labels
        .iter()
        .map(|l| DocLabel::new(&l.name, &l.color))
        .collect();
    for shape in doc.shapes.values_mut() {
        shape.label = name_of(&shape.label);
    }
    for track in doc.tracks.values_mut() {
        track.label = name_of(&track.label);
    }
    doc
}

fn files(format: &str, doc: &Annotations) -> Vec<ExportFile> {
    let one = |path: &str, text: String| {
        vec![ExportFile {
            path: path.to_owned(),
            bytes: text.into_bytes(),
        }]
    };
    match format {
        "cvat_video" => one("annotations.xml", cvat_video::write(doc)),
        "cvat_images" => one("annotations.xml", cvat_images::write(doc)),
        "coco" => one("annotations/instances_default.json", coco::write(doc)),
        "yolo" => yolo::write(doc),
        _ => voc::write(doc),
    }
}

/// 422 `unknown_format` for a name not in [`FORMATS`].
fn check_format(format: &str) -> PlatformResult<()> {
    if FORMATS.contains(&format) {
        return Ok(());
    }
    Err(InputError::unprocessable(
        "unknown_format",
        format!("unknown format {format:?}; one of {}", FORMATS.join(", ")),
    )
    .into())
}

/// The project's annotations as a zip in `format` (422 `unknown_format` for another name).
pub async fn export_project(
    platform: &Platform,
    viewer: &User,
    project_id: i64,
    format: &str,
) -> PlatformResult<Vec<u8>> {
    check_format(format)?;
    let db = platform.db();
    visible_project(db, viewer, project_id).await?;
    let labels = labels_of(db, project_id).await?;
    let media: Vec<i64> = sqlx::query(
        "SELECT id FROM studio_media WHERE project_id = $1 AND status = 'ready' ORDER BY id",
    )
    .bind(project_id)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| r.try_get("id"))
    .collect::<Result<_, _>>()?;
    let mut entries = Vec::new();
    for mid in media {
        let journal = load(db, mid, project_id).await?;
        let doc = named(journal.doc(), &labels);
        for file in files(format, &doc) {
            entries.push((format!("media-{mid}/{}", file.path), file.bytes));
        }
    }
    zipped(entries).await
}

/// One media's annotations as a zip in `format`, its files at the root as CVAT's export of a
/// task holds them (what [`super::import`] takes back); 409 `media_not_ready` before its
/// import ends, 422 `unknown_format`.
pub async fn export_media(
    platform: &Platform,
    viewer: &User,
    media_id: i64,
    format: &str,
) -> PlatformResult<Vec<u8>> {
    check_format(format)?;
    let db = platform.db();
    let media = get_visible(db, viewer, media_id).await?;
    let labels = labels_of(db, media.project_id).await?;
    let journal = load(db, media_id, media.project_id).await?;
    let doc = named(journal.doc(), &labels);
    let entries = files(format, &doc)
        .into_iter()
        .map(|file| (file.path, file.bytes))
        .collect();
    zipped(entries).await
}

/// A deflated zip of `(path, bytes)` entries, made off the async threads.
async fn zipped(entries: Vec<(String, Vec<u8>)>) -> PlatformResult<Vec<u8>> {
    tokio::task::spawn_blocking(move || {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (path, bytes) in entries {
            zip.start_file(path, options)
                .map_err(PlatformError::internal)?;
            zip.write_all(&bytes)?;
        }
        Ok(zip.finish().map_err(PlatformError::internal)?.into_inner())
    })
    .await?
}
