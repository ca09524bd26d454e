//! Import and export in the formats CVAT speaks: CVAT for video 1.1 and CVAT for images 1.1
//! (XML), COCO 1.0 (JSON), YOLO 1.1 and Pascal VOC (a set of files, as in CVAT's zip exports).
//!
//! What each format carries, and so what survives a round trip:
//!
//! | format | labels | colours, attribute specs | boxes, occluded, attributes | tracks |
//! |---|---|---|---|---|
//! | CVAT for video 1.1 | ✓ | ✓ | ✓ | ✓ (key frames; shapes come back as tracks) |
//! | CVAT for images 1.1 | ✓ | ✓ | ✓ | as per-frame boxes |
//! | COCO 1.0 | ✓ | – | ✓ (x, y, w, h) | ✓ via CVAT's `track_id` / `keyframe` attributes |
//! | YOLO 1.1 | ✓ | – | boxes only, normalised | – |
//! | Pascal VOC | ✓ | colours (labelmap.txt) | ✓ | – |
//!
//! Every reader validates what it builds ([`crate::Annotations::validate`]): a box outside its
//! frame or an unknown label is a [`FormatError::Annotation`] naming it.

pub mod coco;
pub mod cvat_images;
mod cvat_meta;
pub mod cvat_video;
pub mod voc;
mod xml;
pub mod yolo;

use crate::annotation::AnnotationError;

/// One file of a multi-file export (YOLO, VOC): its path inside the archive and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    /// Path inside the archive, `/`-separated.
    pub path: String,
    /// Contents.
    pub bytes: Vec<u8>,
}

/// Errors from the readers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FormatError {
    /// The file is not well-formed XML / JSON / text.
    #[error("{format}: cannot parse: {reason}")]
    Parse {
        /// The format.
        format: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// Well-formed, but not what the format requires.
    #[error("{format}: {reason}")]
    Invalid {
        /// The format.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An annotation refers to an image the media does not have.
    #[error("{format}: unknown image {name:?}")]
    UnknownImage {
        /// The format.
        format: &'static str,
        /// The image name or id.
        name: String,
    },
    /// The content breaks the annotation model (unknown label, box outside the frame…).
    #[error(transparent)]
    Annotation(#[from] AnnotationError),
}

fn invalid(format: &'static str, reason: impl Into<String>) -> FormatError {
    FormatError::Invalid {
        format,
        reason: reason.into(),
    }
}

/// Parses a number the way the formats write them.
fn number<T: std::str::FromStr>(
    format: &'static str,
    what: &str,
    text: &str,
) -> Result<T, FormatError> {
    text.trim()
        .parse()
        .map_err(|_| invalid(format, format!("{what} is not a number: {text:?}")))
}

/// `"1"`/`"true"` → true, `"0"`/`"false"` → false.
fn flag(format: &'static str, what: &str, text: &str) -> Result<bool, FormatError> {
    match text.trim() {
        "1" | "true" | "True" => Ok(true),
        "0" | "false" | "False" => Ok(false),
        other => Err(invalid(format, format!("{what} is not 0 or 1: {other:?}"))),
    }
}

/// The file stem of a frame name (`a/b/frame_000001.jpg` → `frame_000001`).
fn stem(name: &str) -> &str {
    let base = name.rsplit('/').next().unwrap_or(name);
    match base.rfind('.') {
        Some(dot) if dot > 0 => &base[..dot],
        _ => base,
    }
}

/// Pulls coordinates that rounding pushed a hair past the frame's edge (within 1e-6 px) back
/// onto it; anything further out is left for validation to reject.
fn snap(bbox: crate::geometry::BBox, width: u32, height: u32) -> crate::geometry::BBox {
    const EPS: f64 = 1e-6;
    let pull = |v: f64, max: f64| {
        if (-EPS..0.0).contains(&v) {
            0.0
        } else if v > max && v <= max + EPS {
            max
        } else {
            v
        }
    };
    let (w, h) = (f64::from(width), f64::from(height));
    crate::geometry::BBox::new(
        pull(bbox.xtl, w),
        pull(bbox.ytl, h),
        pull(bbox.xbr, w),
        pull(bbox.ybr, h),
    )
}

/// Adds a mutable text attribute spec for each attribute of `label` not yet declared.
fn declare_attributes(
    doc: &mut crate::annotation::Annotations,
    label: &str,
    values: &crate::annotation::Attributes,
) -> Result<(), FormatError> {
    let index = doc.label_index(label)?;
    let spec = &mut doc.labels[index].attributes;
    for name in values.keys() {
        if !spec.iter().any(|a| &a.name == name) {
            spec.push(crate::annotation::AttributeSpec {
                name: name.clone(),
                mutable: true,
                input_type: crate::annotation::InputType::Text,
                default_value: String::new(),
                values: Vec::new(),
            });
        }
    }
    Ok(())
}
