//! Annotations imported into one media from a file in one of the export formats (what
//! [`super::export`] writes for that media, or CVAT's own export of a task): CVAT for video or
//! images 1.1 (`annotations.xml`, bare or zipped), COCO 1.0 (the JSON, bare or zipped), YOLO 1.1
//! and Pascal VOC (a zip of their files).
//!
//! As CVAT's "Upload annotations" does, an import replaces the media's annotations, and it is
//! one batch of the journal (delete everything, put what the file holds), so it is
//! all-or-nothing, bumps the version once and one undo brings the old annotations back.
//! Labels are matched by name against the project's; as in CVAT, a label the project lacks
//! refuses the whole file (422 `unknown_label` naming it) rather than creating it. Frames are
//! matched by number for CVAT for video and by image file stem for the others (422
//! `unknown_image` for an image the media lacks); a box outside its frame is 422
//! `box_outside_frame`, as for any edit.

use std::collections::BTreeMap;

use atelier_detector::{
    Annotations, Shape, Track,
    annotation::ops::Op,
    formats::{ExportFile, FormatError, coco, cvat_images, cvat_video, voc, yolo},
};

use super::{
    Label,
    annotations::{VersionView, annotation_error, load, save},
    archive::{self, ArchiveLimits},
    export::FORMATS,
    labels_of,
    media::get_visible,
};
use crate::{
    Platform,
    accounts::User,
    error::{InputError, PlatformError, PlatformResult},
};

/// Most files an imported zip may hold.
const MAX_ARCHIVE_ENTRIES: usize = 100_000;

fn format_error(err: FormatError) -> PlatformError {
    match err {
        FormatError::Annotation(err) => annotation_error(err),
        FormatError::UnknownImage { .. } => {
            InputError::unprocessable("unknown_image", err.to_string()).into()
        }
        other => InputError::unprocessable("bad_annotation_file", other.to_string()).into(),
    }
}

/// The file(s) of an import: a zip's entries, or one bare file.
fn files_of(bytes: &[u8], limits: ArchiveLimits) -> PlatformResult<Vec<ExportFile>> {
    if !archive::is_zip(bytes) {
        return Ok(vec![ExportFile {
            path: "annotations".into(),
            bytes: bytes.to_vec(),
        }]);
    }
    Ok(archive::read_entries(bytes, limits)?
        .into_iter()
        .map(|e| ExportFile {
            path: e.name,
            bytes: e.bytes,
        })
        .collect())
}

/// The one file of a single-file format: the bare file, or the zip's first `.{ext}` entry.
fn single<'a>(files: &'a [ExportFile], ext: &str) -> PlatformResult<&'a str> {
    let file = match files {
        [one] => one,
        _ => files
            .iter()
            .find(|f| f.path.ends_with(ext))
            .ok_or_else(|| {
                InputError::unprocessable(
                    "bad_annotation_file",
                    format!("the archive holds no {ext} file"),
                )
            })?,
    };
    std::str::from_utf8(&file.bytes).map_err(|_| {
        InputError::unprocessable("bad_annotation_file", format!("{} is not UTF-8", file.path))
            .into()
    })
}

/// Parses the file(s) as `format` (`frames`: the media's, which YOLO needs).
fn parse(
    format: &str,
    files: &[ExportFile],
    frames: &[atelier_detector::Frame],
) -> PlatformResult<Annotations> {
    match format {
        "cvat_video" => cvat_video::read(single(files, ".xml")?),
        "cvat_images" => cvat_images::read(single(files, ".xml")?),
        "coco" => coco::read(single(files, ".json")?),
        "yolo" => yolo::read(files, frames),
        _ => voc::read(files),
    }
    .map_err(format_error)
}

fn stem(name: &str) -> &str {
    let base = name.rsplit('/').next().unwrap_or(name);
    match base.rfind('.') {
        Some(dot) if dot > 0 => &base[..dot],
        _ => base,
    }
}

/// Where each frame of the file lands in the media: by number (CVAT for video) or by name.
fn frame_map(format: &str, file: &Annotations, media: &Annotations) -> BTreeMap<u32, u32> {
    let mut map = BTreeMap::new();
    for (index, frame) in file.frames.iter().enumerate() {
        let index = index as u32;
        let target = if format == "cvat_video" {
            (index < media.frames.len() as u32).then_some(index)
        } else {
            media
                .frames
                .iter()
                .position(|f| stem(&f.name) == stem(&frame.name))
                .map(|p| p as u32)
        };
        if let Some(target) = target {
            map.insert(index, target);
        }
    }
    map
}

/// The batch that replaces `media`'s annotations with `file`'s (labels by project id).
fn replace_ops(
    format: &str,
    file: &Annotations,
    media: &Annotations,
    labels: &[Label],
) -> PlatformResult<Vec<Op>> {
    let label_id = |name: &str| {
        labels
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.id.to_string())
            .ok_or_else(|| {
                PlatformError::from(InputError::unprocessable(
                    "unknown_label",
                    format!(
                        "the file uses label {name:?}, which the project does not have; \
                         add it first"
                    ),
                ))
            })
    };
    let frames = frame_map(format, file, media);
    let frame = |n: u32| {
        frames.get(&n).copied().ok_or_else(|| {
            let name = file.frames.get(n as usize).map_or("?", |f| f.name.as_str());
            PlatformError::from(InputError::unprocessable(
                "unknown_image",
                format!("the file annotates frame {n} ({name}), which the media does not have"),
            ))
        })
    };
    let mut ops: Vec<Op> = media
        .shapes
        .keys()
        .map(|&id| Op::DeleteShape { id })
        .chain(media.tracks.keys().map(|&id| Op::DeleteTrack { id }))
        .collect();
    let mut next = media.next_id();
    for shape in file.shapes.values() {
        ops.push(Op::PutShape(Shape {
            id: next,
            label: label_id(&shape.label)?,
            frame: frame(shape.frame)?,
            source: "file".into(),
            attributes: Default::default(),
            ..shape.clone()
        }));
        next += 1;
    }
    for track in file.tracks.values() {
        let mut keyframes = BTreeMap::new();
        for (&n, key) in &track.keyframes {
            let mut key = key.clone();
            key.attributes = Default::default();
            keyframes.insert(frame(n)?, key);
        }
        ops.push(Op::PutTrack(Track {
            id: next,
            label: label_id(&track.label)?,
            source: "file".into(),
            attributes: Default::default(),
            keyframes,
        }));
        next += 1;
    }
    Ok(ops)
}

/// Replaces a media's annotations with those of `bytes` in `format` (one journal batch).
pub async fn import_annotations(
    platform: &Platform,
    viewer: &User,
    media_id: i64,
    format: &str,
    bytes: Vec<u8>,
) -> PlatformResult<VersionView> {
    if !FORMATS.contains(&format) {
        return Err(InputError::unprocessable(
            "unknown_format",
            format!("unknown format {format:?}; one of {}", FORMATS.join(", ")),
        )
        .into());
    }
    let db = platform.db();
    let media = get_visible(db, viewer, media_id).await?;
    let mut journal = load(db, media_id, media.project_id).await?;
    let labels = labels_of(db, media.project_id).await?;
    let limits = ArchiveLimits {
        max_entries: MAX_ARCHIVE_ENTRIES,
        max_total_bytes: platform.config().uploads.max_bytes,
    };
    let doc = journal.doc().clone();
    let owned_format = format.to_owned();
    let ops = tokio::task::spawn_blocking(move || -> PlatformResult<Vec<Op>> {
        let files = files_of(&bytes, limits)?;
        let file = parse(&owned_format, &files, &doc.frames)?;
        replace_ops(&owned_format, &file, &doc, &labels)
    })
    .await??;
    let before = journal.version();
    let version = journal.apply(ops).map_err(annotation_error)?;
    save(db, media_id, before, &journal).await?;
    Ok(VersionView { version })
}
