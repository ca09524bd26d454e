//! COCO 1.0 (object detection JSON) as CVAT writes it: categories, images, and one annotation per
//! visible box with `bbox = [x, y, width, height]`, `area`, `iscrowd = 0`, and CVAT's
//! `attributes` object holding `occluded`, the label attributes and, for a track's boxes,
//! `track_id` and `keyframe`.
//!
//! The reader rebuilds tracks from `track_id`: rows marked `keyframe` (and the first row after a
//! gap) become key frames, and a gap in a track's rows becomes an outside key frame, so tracks
//! survive a round trip. Colours and attribute specs are not carried: labels get default colours
//! and each attribute seen becomes a mutable text attribute.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{FormatError, declare_attributes, invalid, snap};
use crate::annotation::{
    Annotations, Attributes, Frame, KeyFrame, Label, Shape, Track, default_color,
};
use crate::geometry::BBox;

const FORMAT: &str = "COCO 1.0";

/// A COCO document (the parts atelier reads and writes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoFile {
    /// Licences (CVAT writes one empty licence).
    #[serde(default)]
    pub licenses: Vec<Value>,
    /// Dataset information.
    #[serde(default)]
    pub info: Value,
    /// Categories (labels).
    pub categories: Vec<CocoCategory>,
    /// Images.
    pub images: Vec<CocoImage>,
    /// Boxes.
    pub annotations: Vec<CocoAnnotation>,
}

/// A category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoCategory {
    /// Id (atelier writes 1, 2, … in label order).
    pub id: u64,
    /// Label name.
    pub name: String,
    /// Super-category ("" from CVAT).
    #[serde(default)]
    pub supercategory: String,
}

/// An image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoImage {
    /// Id (atelier writes frame number + 1).
    pub id: u64,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// File name.
    pub file_name: String,
}

/// One box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoAnnotation {
    /// Id (1, 2, …).
    pub id: u64,
    /// The image's id.
    pub image_id: u64,
    /// The category's id.
    pub category_id: u64,
    /// Always empty for boxes.
    #[serde(default)]
    pub segmentation: Vec<Value>,
    /// Box area.
    #[serde(default)]
    pub area: f64,
    /// `[x, y, width, height]`.
    pub bbox: [f64; 4],
    /// 0: atelier has no crowd boxes.
    #[serde(default)]
    pub iscrowd: u8,
    /// CVAT's extras: occluded, track_id, keyframe, label attributes.
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

/// Builds the COCO structure of a document.
pub fn to_coco(doc: &Annotations) -> CocoFile {
    let mut annotations = Vec::new();
    for (n, _) in doc.frames.iter().enumerate() {
        let mut boxes = doc.boxes_on(n as u32);
        boxes.sort_by_key(|b| (b.tracked, b.id));
        for b in boxes {
            let mut attributes = Map::new();
            attributes.insert("occluded".into(), Value::Bool(b.occluded));
            attributes.insert("rotation".into(), Value::from(0.0));
            for (k, v) in &b.attributes {
                attributes.insert(k.clone(), Value::String(v.clone()));
            }
            if b.tracked {
                attributes.insert("track_id".into(), Value::from(b.id));
                attributes.insert("keyframe".into(), Value::Bool(b.keyframe));
            }
            let category_id = doc.label_index(&b.label).map_or(0, |i| i as u64 + 1);
            annotations.push(CocoAnnotation {
                id: annotations.len() as u64 + 1,
                image_id: n as u64 + 1,
                category_id,
                segmentation: Vec::new(),
                area: b.bbox.area(),
                bbox: [b.bbox.xtl, b.bbox.ytl, b.bbox.width(), b.bbox.height()],
                iscrowd: 0,
                attributes,
            });
        }
    }
    CocoFile {
        licenses: vec![serde_json::json!({"name": "", "id": 0, "url": ""})],
        info: serde_json::json!({
            "contributor": "", "date_created": "", "description": doc.name,
            "url": "", "version": "", "year": ""
        }),
        categories: doc
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| CocoCategory {
                id: i as u64 + 1,
                name: l.name.clone(),
                supercategory: String::new(),
            })
            .collect(),
        images: doc
            .frames
            .iter()
            .enumerate()
            .map(|(n, f)| CocoImage {
                id: n as u64 + 1,
                width: f.width,
                height: f.height,
                file_name: f.name.clone(),
            })
            .collect(),
        annotations,
    }
}

/// Writes a document as COCO JSON.
pub fn write(doc: &Annotations) -> String {
    serde_json::to_string_pretty(&to_coco(doc)).unwrap_or_default()
}

/// Reads COCO JSON.
pub fn read(text: &str) -> Result<Annotations, FormatError> {
    let coco: CocoFile = serde_json::from_str(text).map_err(|e| FormatError::Parse {
        format: FORMAT,
        reason: e.to_string(),
    })?;
    from_coco(&coco)
}

/// One row of a track while it is rebuilt.
struct Row {
    bbox: BBox,
    keyframe: bool,
    occluded: bool,
    attributes: Attributes,
}

/// Builds a document from the COCO structure.
pub fn from_coco(coco: &CocoFile) -> Result<Annotations, FormatError> {
    let mut doc = Annotations {
        name: coco
            .info
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        ..Annotations::default()
    };
    let mut categories = BTreeMap::new();
    for (i, c) in coco.categories.iter().enumerate() {
        categories.insert(c.id, c.name.clone());
        doc.labels.push(Label::new(&c.name, &default_color(i)));
    }
    let mut images = BTreeMap::new();
    for (n, image) in coco.images.iter().enumerate() {
        if images.insert(image.id, n as u32).is_some() {
            return Err(invalid(
                FORMAT,
                format!("image id {} appears twice", image.id),
            ));
        }
        doc.frames.push(Frame {
            name: image.file_name.clone(),
            width: image.width,
            height: image.height,
        });
    }
    let mut tracks: BTreeMap<u64, (String, BTreeMap<u32, Row>)> = BTreeMap::new();
    let mut shapes = Vec::new();
    for a in &coco.annotations {
        let label = categories
            .get(&a.category_id)
            .ok_or_else(|| {
                invalid(
                    FORMAT,
                    format!("annotation {} has unknown category {}", a.id, a.category_id),
                )
            })?
            .clone();
        let frame = *images
            .get(&a.image_id)
            .ok_or_else(|| FormatError::UnknownImage {
                format: FORMAT,
                name: a.image_id.to_string(),
            })?;
        let [x, y, w, h] = a.bbox;
        let size = &doc.frames[frame as usize];
        let bbox = snap(BBox::from_xywh(x, y, w, h), size.width, size.height);
        let mut attributes = Attributes::new();
        let (mut occluded, mut track_id, mut keyframe) = (false, None, false);
        for (k, v) in &a.attributes {
            match (k.as_str(), v) {
                ("occluded", v) => occluded = v.as_bool().unwrap_or(false),
                ("rotation", _) => {}
                ("track_id", v) => track_id = v.as_u64(),
                ("keyframe", v) => keyframe = v.as_bool().unwrap_or(false),
                (k, Value::String(s)) => {
                    attributes.insert(k.to_owned(), s.clone());
                }
                (k, v) => {
                    attributes.insert(k.to_owned(), v.to_string());
                }
            }
        }
        declare_attributes(&mut doc, &label, &attributes)?;
        let row = Row {
            bbox,
            keyframe,
            occluded,
            attributes,
        };
        match track_id {
            Some(id) => {
                let entry = tracks
                    .entry(id)
                    .or_insert_with(|| (label.clone(), BTreeMap::new()));
                if entry.0 != label {
                    return Err(invalid(FORMAT, format!("track {id} changes label")));
                }
                if entry.1.insert(frame, row).is_some() {
                    return Err(invalid(
                        FORMAT,
                        format!("track {id} has two boxes on image {}", a.image_id),
                    ));
                }
            }
            None => shapes.push((label, frame, row)),
        }
    }
    for (id, (label, rows)) in tracks {
        let track = rebuild_track(id, label, &rows, &doc.frames);
        doc.check_track(&track)?;
        doc.tracks.insert(id, track);
    }
    let first = doc.next_id();
    for (next, (label, frame, row)) in (first..).zip(shapes) {
        let shape = Shape {
            id: next,
            label,
            frame,
            bbox: row.bbox,
            occluded: row.occluded,
            z_order: 0,
            source: "manual".into(),
            attributes: row.attributes,
        };
        doc.check_shape(&shape)?;
        doc.shapes.insert(next, shape);
    }
    doc.validate()?;
    Ok(doc)
}

/// Key frames from a track's visible rows: marked key frames, the first row of each run, and an
/// outside key frame after each run that ends before the media does. The outside key frame's box
/// is extrapolated from the run's last interpolated row (so the frames before it interpolate as
/// they did), or the last key frame's box when the run ends on a key frame.
fn rebuild_track(
    id: u64,
    label: String,
    rows: &BTreeMap<u32, Row>,
    frames_of_media: &[Frame],
) -> Track {
    let count = frames_of_media.len() as u32;
    let mut keyframes = BTreeMap::new();
    let mut last_key: Option<(u32, BBox)> = None;
    let mut previous: Option<u32> = None;
    let frames: Vec<u32> = rows.keys().copied().collect();
    for (i, &f) in frames.iter().enumerate() {
        let row = &rows[&f];
        let starts_run = previous != Some(f.wrapping_sub(1)) || previous.is_none();
        if row.keyframe || starts_run {
            keyframes.insert(
                f,
                KeyFrame {
                    bbox: row.bbox,
                    outside: false,
                    occluded: row.occluded,
                    z_order: 0,
                    attributes: row.attributes.clone(),
                },
            );
            last_key = Some((f, row.bbox));
        }
        let ends_run = frames.get(i + 1) != Some(&(f + 1));
        if ends_run && f + 1 < count {
            let bbox = match last_key {
                Some((k, kb)) if k != f => {
                    let scale = f64::from(f + 1 - k) / f64::from(f - k);
                    BBox::new(
                        kb.xtl + (row.bbox.xtl - kb.xtl) * scale,
                        kb.ytl + (row.bbox.ytl - kb.ytl) * scale,
                        kb.xbr + (row.bbox.xbr - kb.xbr) * scale,
                        kb.ybr + (row.bbox.ybr - kb.ybr) * scale,
                    )
                }
                _ => row.bbox,
            };
            // A box extrapolated past the frame's edge cannot be stored; fall back to the last one.
            let next = &frames_of_media[(f + 1) as usize];
            let bbox = if bbox.is_proper() && bbox.inside(next.width, next.height) {
                bbox
            } else {
                row.bbox
            };
            keyframes.insert(
                f + 1,
                KeyFrame {
                    bbox,
                    outside: true,
                    occluded: row.occluded,
                    z_order: 0,
                    attributes: row.attributes.clone(),
                },
            );
        }
        previous = Some(f);
    }
    Track {
        id,
        label,
        source: "manual".into(),
        attributes: Attributes::new(),
        keyframes,
    }
}
