//! The annotation model, with CVAT's semantics: labels (colour, optional attribute specs), frames,
//! per-frame boxes ([`Shape`]) and tracks of key frames ([`Track`], interpolated in
//! [`interpolate`]), plus the batch operations and undo log in [`ops`].
//!
//! An [`Annotations`] document is always valid: every box lies inside its frame, names a known
//! label, and uses only that label's attributes. Importers call [`Annotations::validate`];
//! [`ops::Journal`] checks each operation before it changes anything.

pub mod interpolate;
pub mod ops;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::geometry::BBox;

/// Attribute values of a box or key frame, by attribute name.
pub type Attributes = BTreeMap<String, String>;

/// Errors from building or editing annotations.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnnotationError {
    /// A box names a label the document does not define.
    #[error("unknown label {0:?}")]
    UnknownLabel(String),
    /// Two labels share a name.
    #[error("label {0:?} is defined twice")]
    DuplicateLabel(String),
    /// A colour is not `#rrggbb`.
    #[error("label {label:?}: colour {color:?} is not #rrggbb")]
    BadColor {
        /// The label.
        label: String,
        /// The colour as given.
        color: String,
    },
    /// A box uses an attribute its label does not declare.
    #[error("label {label:?} has no attribute {attribute:?}")]
    UnknownAttribute {
        /// The label.
        label: String,
        /// The attribute name.
        attribute: String,
    },
    /// A frame number past the last frame.
    #[error("frame {frame} does not exist (the document has {count} frames)")]
    FrameOutOfRange {
        /// The frame asked for.
        frame: u32,
        /// Number of frames.
        count: usize,
    },
    /// A box with NaN/infinite coordinates or no area.
    #[error("frame {frame}: box {bbox:?} is empty or not finite")]
    DegenerateBox {
        /// The frame.
        frame: u32,
        /// The box.
        bbox: BBox,
    },
    /// A box reaching outside its frame.
    #[error("frame {frame}: box {bbox:?} lies outside the {width}x{height} frame")]
    BoxOutsideFrame {
        /// The frame.
        frame: u32,
        /// The box.
        bbox: BBox,
        /// Frame width.
        width: u32,
        /// Frame height.
        height: u32,
    },
    /// A track without any key frame.
    #[error("track {0} has no key frame")]
    EmptyTrack(u64),
    /// No shape with this id.
    #[error("no shape {0}")]
    UnknownShape(u64),
    /// No track with this id.
    #[error("no track {0}")]
    UnknownTrack(u64),
    /// The track has no key frame at this frame.
    #[error("track {track} has no key frame at frame {frame}")]
    NoKeyFrame {
        /// The track.
        track: u64,
        /// The frame.
        frame: u32,
    },
    /// A shape or track id already used by the other kind.
    #[error("id {0} is already used")]
    IdInUse(u64),
    /// Nothing to undo or redo.
    #[error("nothing to {0}")]
    NothingTo(&'static str),
}

/// How an attribute is entered (CVAT's `input_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    /// One of `values`, from a drop-down.
    Select,
    /// One of `values`, as radio buttons.
    Radio,
    /// "true" / "false".
    Checkbox,
    /// A number; `values` holds min, max, step.
    Number,
    /// Free text.
    Text,
}

impl InputType {
    /// CVAT's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Select => "select",
            Self::Radio => "radio",
            Self::Checkbox => "checkbox",
            Self::Number => "number",
            Self::Text => "text",
        }
    }

    /// Parses CVAT's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "select" => Self::Select,
            "radio" => Self::Radio,
            "checkbox" => Self::Checkbox,
            "number" => Self::Number,
            "text" => Self::Text,
            _ => return None,
        })
    }
}

/// An attribute a label's boxes may carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeSpec {
    /// Attribute name.
    pub name: String,
    /// Whether the value may change along a track (per key frame) or is fixed per track.
    pub mutable: bool,
    /// How it is entered.
    pub input_type: InputType,
    /// The value a new box starts with.
    pub default_value: String,
    /// Allowed values (select/radio), or min/max/step (number).
    pub values: Vec<String>,
}

/// A label (object class).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// Unique name.
    pub name: String,
    /// Display colour, `#rrggbb`.
    pub color: String,
    /// Optional attributes.
    pub attributes: Vec<AttributeSpec>,
}

impl Label {
    /// A label without attributes.
    pub fn new(name: &str, color: &str) -> Self {
        Self {
            name: name.to_owned(),
            color: color.to_owned(),
            attributes: Vec::new(),
        }
    }

    /// The colour as RGB, when it is well formed.
    pub fn rgb(&self) -> Option<[u8; 3]> {
        parse_color(&self.color)
    }
}

/// `#rrggbb` → RGB.
pub fn parse_color(text: &str) -> Option<[u8; 3]> {
    let hex = text.strip_prefix('#')?;
    if hex.len() != 6 || !hex.is_ascii() {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

/// A distinct colour for the `index`-th label when a format carries none (CVAT's palette idea:
/// evenly spread hues).
pub fn default_color(index: usize) -> String {
    const PALETTE: [&str; 10] = [
        "#fa3253", "#34d1b7", "#ff6037", "#3d3df5", "#b83df5", "#f59331", "#24b353", "#fafa37",
        "#8c78f0", "#83e070",
    ];
    PALETTE[index % PALETTE.len()].to_owned()
}

/// One frame (image) of the annotated media.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// File name (for a video, `frame_000042`).
    pub name: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// The name CVAT gives frame `n` of a video.
pub fn video_frame_name(n: u32) -> String {
    format!("frame_{n:06}")
}

/// A box on one frame, not part of a track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    /// Id, unique among shapes and tracks.
    pub id: u64,
    /// Label name.
    pub label: String,
    /// Frame number.
    pub frame: u32,
    /// The box.
    pub bbox: BBox,
    /// Partly hidden.
    pub occluded: bool,
    /// Drawing order.
    pub z_order: i32,
    /// Who made it: "manual", "auto" (a detector's proposal), "file"…
    pub source: String,
    /// Attribute values.
    pub attributes: Attributes,
}

/// A key frame of a track: a box the user placed, or the point where the object leaves view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyFrame {
    /// The box (kept on an outside key frame too, as CVAT does).
    pub bbox: BBox,
    /// The object is not visible from this frame until the next key frame.
    pub outside: bool,
    /// Partly hidden.
    pub occluded: bool,
    /// Drawing order.
    pub z_order: i32,
    /// Values of mutable attributes.
    pub attributes: Attributes,
}

impl KeyFrame {
    /// A visible, unoccluded key frame.
    pub fn visible(bbox: BBox) -> Self {
        Self {
            bbox,
            outside: false,
            occluded: false,
            z_order: 0,
            attributes: Attributes::new(),
        }
    }
}

/// One object followed over frames: key frames, with the frames between interpolated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// Id, unique among shapes and tracks.
    pub id: u64,
    /// Label name.
    pub label: String,
    /// Who made it.
    pub source: String,
    /// Immutable attribute values (fixed for the track).
    pub attributes: Attributes,
    /// Key frames by frame number (serialised as `[frame, key frame]` pairs: integer map keys
    /// do not survive serde's internally tagged enums, such as [`ops::Op`]).
    #[serde(with = "keyframe_pairs")]
    pub keyframes: BTreeMap<u32, KeyFrame>,
}

/// Serde for a track's key frames as a list of `[frame, key frame]` pairs.
mod keyframe_pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::KeyFrame;

    pub(super) fn serialize<S: Serializer>(
        map: &BTreeMap<u32, KeyFrame>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.iter())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<u32, KeyFrame>, D::Error> {
        Ok(Vec::<(u32, KeyFrame)>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

/// A box as seen on one frame: a shape, or a track's key frame or interpolated position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameBox {
    /// The shape's or track's id.
    pub id: u64,
    /// Whether it comes from a track.
    pub tracked: bool,
    /// Whether it is a key frame (always true for a shape).
    pub keyframe: bool,
    /// Label name.
    pub label: String,
    /// The box.
    pub bbox: BBox,
    /// Partly hidden.
    pub occluded: bool,
    /// Drawing order.
    pub z_order: i32,
    /// Attribute values (track-level and per-frame merged).
    pub attributes: Attributes,
}

/// A whole annotation document: what one project's media holds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Annotations {
    /// Task / project name.
    pub name: String,
    /// Labels.
    pub labels: Vec<Label>,
    /// Frames, numbered from 0.
    pub frames: Vec<Frame>,
    /// Single-frame boxes by id.
    pub shapes: BTreeMap<u64, Shape>,
    /// Tracks by id.
    pub tracks: BTreeMap<u64, Track>,
}

impl Annotations {
    /// An empty document over `frames` with `labels`.
    pub fn new(
        name: &str,
        labels: Vec<Label>,
        frames: Vec<Frame>,
    ) -> Result<Self, AnnotationError> {
        let doc = Self {
            name: name.to_owned(),
            labels,
            frames,
            ..Self::default()
        };
        doc.validate()?;
        Ok(doc)
    }

    /// A label by name.
    pub fn label(&self, name: &str) -> Result<&Label, AnnotationError> {
        self.labels
            .iter()
            .find(|l| l.name == name)
            .ok_or_else(|| AnnotationError::UnknownLabel(name.to_owned()))
    }

    /// Index of a label by name.
    pub fn label_index(&self, name: &str) -> Result<usize, AnnotationError> {
        self.labels
            .iter()
            .position(|l| l.name == name)
            .ok_or_else(|| AnnotationError::UnknownLabel(name.to_owned()))
    }

    /// A frame by number.
    pub fn frame(&self, frame: u32) -> Result<&Frame, AnnotationError> {
        self.frames
            .get(frame as usize)
            .ok_or(AnnotationError::FrameOutOfRange {
                frame,
                count: self.frames.len(),
            })
    }

    /// The smallest id not used by a shape or a track.
    pub fn next_id(&self) -> u64 {
        let shapes = self.shapes.keys().next_back().copied().unwrap_or(0);
        let tracks = self.tracks.keys().next_back().copied().unwrap_or(0);
        shapes.max(tracks) + 1
    }

    /// Checks a box on `frame`: finite, non-empty, inside the frame.
    pub fn check_box(&self, frame: u32, bbox: &BBox) -> Result<(), AnnotationError> {
        let f = self.frame(frame)?;
        if !bbox.is_proper() {
            return Err(AnnotationError::DegenerateBox { frame, bbox: *bbox });
        }
        if !bbox.inside(f.width, f.height) {
            return Err(AnnotationError::BoxOutsideFrame {
                frame,
                bbox: *bbox,
                width: f.width,
                height: f.height,
            });
        }
        Ok(())
    }

    fn check_attributes(
        &self,
        label: &str,
        attributes: &Attributes,
    ) -> Result<(), AnnotationError> {
        let spec = self.label(label)?;
        for name in attributes.keys() {
            if !spec.attributes.iter().any(|a| &a.name == name) {
                return Err(AnnotationError::UnknownAttribute {
                    label: label.to_owned(),
                    attribute: name.clone(),
                });
            }
        }
        Ok(())
    }

    /// Checks one shape against the document.
    pub fn check_shape(&self, shape: &Shape) -> Result<(), AnnotationError> {
        self.check_attributes(&shape.label, &shape.attributes)?;
        self.check_box(shape.frame, &shape.bbox)
    }

    /// Checks one track against the document. Outside key frames keep a box too (CVAT's
    /// convention), and it must lie in the frame like any other since frames before it
    /// interpolate towards it.
    pub fn check_track(&self, track: &Track) -> Result<(), AnnotationError> {
        self.check_attributes(&track.label, &track.attributes)?;
        if track.keyframes.is_empty() {
            return Err(AnnotationError::EmptyTrack(track.id));
        }
        for (&frame, key) in &track.keyframes {
            self.check_attributes(&track.label, &key.attributes)?;
            self.check_box(frame, &key.bbox)?;
        }
        Ok(())
    }

    /// Checks the whole document: labels unique with well-formed colours, every shape and track.
    pub fn validate(&self) -> Result<(), AnnotationError> {
        for (i, label) in self.labels.iter().enumerate() {
            if self.labels[..i].iter().any(|l| l.name == label.name) {
                return Err(AnnotationError::DuplicateLabel(label.name.clone()));
            }
            if label.rgb().is_none() {
                return Err(AnnotationError::BadColor {
                    label: label.name.clone(),
                    color: label.color.clone(),
                });
            }
        }
        for shape in self.shapes.values() {
            if self.tracks.contains_key(&shape.id) {
                return Err(AnnotationError::IdInUse(shape.id));
            }
            self.check_shape(shape)?;
        }
        for track in self.tracks.values() {
            self.check_track(track)?;
        }
        Ok(())
    }

    /// Every visible box on `frame`: shapes, then tracks (key frames and interpolated positions).
    /// What training, export and "unannotated frames" read: hidden tracks are not in it.
    pub fn boxes_on(&self, frame: u32) -> Vec<FrameBox> {
        let mut out: Vec<FrameBox> = self
            .shapes
            .values()
            .filter(|s| s.frame == frame)
            .map(|s| FrameBox {
                id: s.id,
                tracked: false,
                keyframe: true,
                label: s.label.clone(),
                bbox: s.bbox,
                occluded: s.occluded,
                z_order: s.z_order,
                attributes: s.attributes.clone(),
            })
            .collect();
        for track in self.tracks.values() {
            if let Some(state) = track.state_at(frame)
                && !state.outside
            {
                let mut attributes = track.attributes.clone();
                attributes.extend(state.attributes);
                out.push(FrameBox {
                    id: track.id,
                    tracked: true,
                    keyframe: state.keyframe,
                    label: track.label.clone(),
                    bbox: state.bbox,
                    occluded: state.occluded,
                    z_order: state.z_order,
                    attributes,
                });
            }
        }
        out
    }

    /// The tracks that are outside (hidden) on `frame`, each with the box it keeps there (that of
    /// the outside key frame in force), so an annotation tool can list them greyed and bring them
    /// back in, as CVAT does. Tracks whose first key frame comes later are not listed.
    pub fn hidden_tracks_on(&self, frame: u32) -> Vec<FrameBox> {
        self.tracks
            .values()
            .filter_map(|track| {
                let state = track.state_at(frame).filter(|s| s.outside)?;
                let mut attributes = track.attributes.clone();
                attributes.extend(state.attributes);
                Some(FrameBox {
                    id: track.id,
                    tracked: true,
                    keyframe: state.keyframe,
                    label: track.label.clone(),
                    bbox: state.bbox,
                    occluded: state.occluded,
                    z_order: state.z_order,
                    attributes,
                })
            })
            .collect()
    }

    /// Frames that carry at least one key frame or shape (what a user actually annotated).
    pub fn annotated_frames(&self) -> Vec<u32> {
        let mut frames: Vec<u32> = self
            .shapes
            .values()
            .map(|s| s.frame)
            .chain(
                self.tracks
                    .values()
                    .flat_map(|t| t.keyframes.iter().filter(|(_, k)| !k.outside))
                    .map(|(&f, _)| f),
            )
            .collect();
        frames.sort_unstable();
        frames.dedup();
        frames
    }
}
