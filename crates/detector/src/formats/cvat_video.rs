//! CVAT for video 1.1: one `<track>` per object with a `<box>` per frame (key frames marked
//! `keyframe="1"`, interpolated frames `keyframe="0"`, leaving view `outside="1"`), labels in
//! `<meta>`, one frame size (`<original_size>`).
//!
//! The reader keeps key frames only and recomputes the rest by interpolation, so a document
//! survives a round trip exactly. Single-frame boxes are written as CVAT writes them: a track
//! with a key frame and an outside key frame on the next frame; they come back as such tracks.

use std::collections::BTreeMap;

use super::cvat_meta::{
    read_attributes, read_labels, split_attributes, task, write_attributes, write_meta,
};
use super::xml::{self, Writer, attr, child, child_text};
use super::{FormatError, flag, invalid, number};
use crate::annotation::{Annotations, Frame, KeyFrame, Track, video_frame_name};
use crate::geometry::BBox;

const FORMAT: &str = "CVAT for video 1.1";

/// Writes a document. Its frames must share one size (a video); the first frame's is written.
pub fn write(doc: &Annotations) -> String {
    let mut w = Writer::new();
    w.open("annotations", &[]);
    let (width, height) = doc.frames.first().map_or((0, 0), |f| (f.width, f.height));
    write_meta(&mut w, doc, "interpolation", |w| {
        w.open("original_size", &[]);
        w.leaf("width", &[], &width.to_string());
        w.leaf("height", &[], &height.to_string());
        w.close("original_size");
    });
    let count = doc.frames.len() as u32;
    let mut tracks: Vec<Track> = doc.tracks.values().cloned().collect();
    for s in doc.shapes.values() {
        let mut keyframes = BTreeMap::new();
        keyframes.insert(
            s.frame,
            KeyFrame {
                bbox: s.bbox,
                outside: false,
                occluded: s.occluded,
                z_order: s.z_order,
                attributes: Default::default(),
            },
        );
        if s.frame + 1 < count {
            keyframes.insert(
                s.frame + 1,
                KeyFrame {
                    bbox: s.bbox,
                    outside: true,
                    occluded: s.occluded,
                    z_order: s.z_order,
                    attributes: Default::default(),
                },
            );
        }
        tracks.push(Track {
            id: s.id,
            label: s.label.clone(),
            source: s.source.clone(),
            attributes: s.attributes.clone(),
            keyframes,
        });
    }
    tracks.sort_by_key(|t| t.id);
    for t in &tracks {
        w.open(
            "track",
            &[
                ("id", t.id.to_string()),
                ("label", t.label.clone()),
                ("source", t.source.clone()),
            ],
        );
        let first = t.keyframes.keys().next().copied().unwrap_or(0);
        for f in first..count {
            let Some(s) = t.state_at(f) else { continue };
            if s.outside && !s.keyframe {
                continue;
            }
            w.open(
                "box",
                &[
                    ("frame", f.to_string()),
                    ("keyframe", u8::from(s.keyframe).to_string()),
                    ("outside", u8::from(s.outside).to_string()),
                    ("occluded", u8::from(s.occluded).to_string()),
                    ("xtl", s.bbox.xtl.to_string()),
                    ("ytl", s.bbox.ytl.to_string()),
                    ("xbr", s.bbox.xbr.to_string()),
                    ("ybr", s.bbox.ybr.to_string()),
                    ("z_order", s.z_order.to_string()),
                ],
            );
            let mut values = t.attributes.clone();
            values.extend(s.attributes.clone());
            write_attributes(&mut w, &values);
            w.close("box");
        }
        w.close("track");
    }
    w.close("annotations");
    w.finish()
}

/// Reads a document; frames are named `frame_000000`… with the `<original_size>`.
pub fn read(text: &str) -> Result<Annotations, FormatError> {
    let parsed = xml::parse(FORMAT, text)?;
    let root = parsed.root_element();
    if !root.has_tag_name("annotations") {
        return Err(invalid(FORMAT, "the root element is not <annotations>"));
    }
    let task = task(FORMAT, root)?;
    let size: u32 = number(FORMAT, "size", child_text(task, "size"))?;
    let original =
        child(task, "original_size").ok_or_else(|| invalid(FORMAT, "no <original_size>"))?;
    let width = number(FORMAT, "width", child_text(original, "width"))?;
    let height = number(FORMAT, "height", child_text(original, "height"))?;
    let frames = (0..size)
        .map(|n| Frame {
            name: video_frame_name(n),
            width,
            height,
        })
        .collect();
    let mut doc = Annotations {
        name: child_text(task, "name").to_owned(),
        labels: read_labels(FORMAT, task)?,
        frames,
        ..Annotations::default()
    };
    for node in root.children().filter(|n| n.is_element()) {
        match node.tag_name().name() {
            "version" | "meta" => {}
            "track" => read_track(&mut doc, node)?,
            other => {
                return Err(invalid(
                    FORMAT,
                    format!("unsupported element <{other}>: atelier annotates boxes"),
                ));
            }
        }
    }
    doc.validate()?;
    Ok(doc)
}

fn read_track(doc: &mut Annotations, node: roxmltree::Node<'_, '_>) -> Result<(), FormatError> {
    let label = attr(FORMAT, node, "label")?.to_owned();
    doc.label(&label)?;
    let id = match node.attribute("id") {
        Some(id) => number(FORMAT, "track id", id)?,
        None => doc.next_id(),
    };
    if doc.tracks.contains_key(&id) {
        return Err(invalid(FORMAT, format!("track id {id} appears twice")));
    }
    let mut track = Track {
        id,
        label: label.clone(),
        source: node.attribute("source").unwrap_or("manual").to_owned(),
        attributes: Default::default(),
        keyframes: BTreeMap::new(),
    };
    for b in node.children().filter(|n| n.is_element()) {
        if !b.has_tag_name("box") {
            return Err(invalid(
                FORMAT,
                format!(
                    "unsupported shape <{}> in track {id}: atelier annotates boxes",
                    b.tag_name().name()
                ),
            ));
        }
        let keyframe = b
            .attribute("keyframe")
            .map_or(Ok(true), |k| flag(FORMAT, "keyframe", k))?;
        if !keyframe {
            continue;
        }
        let frame: u32 = number(FORMAT, "frame", attr(FORMAT, b, "frame")?)?;
        let coordinate = |name: &str| -> Result<f64, FormatError> {
            number(FORMAT, name, attr(FORMAT, b, name)?)
        };
        let bbox = BBox::new(
            coordinate("xtl")?,
            coordinate("ytl")?,
            coordinate("xbr")?,
            coordinate("ybr")?,
        );
        let (fixed, per_frame) = split_attributes(doc, &label, read_attributes(FORMAT, b)?);
        track.attributes.extend(fixed);
        track.keyframes.insert(
            frame,
            KeyFrame {
                bbox,
                outside: b
                    .attribute("outside")
                    .map_or(Ok(false), |v| flag(FORMAT, "outside", v))?,
                occluded: b
                    .attribute("occluded")
                    .map_or(Ok(false), |v| flag(FORMAT, "occluded", v))?,
                z_order: b
                    .attribute("z_order")
                    .map_or(Ok(0), |v| number(FORMAT, "z_order", v))?,
                attributes: per_frame,
            },
        );
    }
    doc.check_track(&track)?;
    doc.tracks.insert(id, track);
    Ok(())
}
