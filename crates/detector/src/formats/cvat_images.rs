//! CVAT for images 1.1: one `<image>` per frame (id, name, size) holding its `<box>` elements.
//!
//! The format has no tracks: a track is written as its visible box on every frame (key frames
//! and interpolated ones), and comes back as single-frame shapes. Shapes survive exactly.

use super::cvat_meta::{read_attributes, read_labels, task, write_attributes, write_meta};
use super::xml::{self, Writer, attr, child_text};
use super::{FormatError, flag, invalid, number};
use crate::annotation::{Annotations, Frame, Shape};
use crate::geometry::BBox;

const FORMAT: &str = "CVAT for images 1.1";

/// Writes a document.
pub fn write(doc: &Annotations) -> String {
    let mut w = Writer::new();
    w.open("annotations", &[]);
    write_meta(&mut w, doc, "annotation", |_| {});
    for (n, frame) in doc.frames.iter().enumerate() {
        w.open(
            "image",
            &[
                ("id", n.to_string()),
                ("name", frame.name.clone()),
                ("width", frame.width.to_string()),
                ("height", frame.height.to_string()),
            ],
        );
        for b in doc.boxes_on(n as u32) {
            let source = if b.tracked {
                doc.tracks.get(&b.id).map(|t| t.source.clone())
            } else {
                doc.shapes.get(&b.id).map(|s| s.source.clone())
            };
            w.open(
                "box",
                &[
                    ("label", b.label.clone()),
                    ("source", source.unwrap_or_else(|| "manual".into())),
                    ("occluded", u8::from(b.occluded).to_string()),
                    ("xtl", b.bbox.xtl.to_string()),
                    ("ytl", b.bbox.ytl.to_string()),
                    ("xbr", b.bbox.xbr.to_string()),
                    ("ybr", b.bbox.ybr.to_string()),
                    ("z_order", b.z_order.to_string()),
                ],
            );
            write_attributes(&mut w, &b.attributes);
            w.close("box");
        }
        w.close("image");
    }
    w.close("annotations");
    w.finish()
}

/// Reads a document. Images are numbered by their `id`, which must run 0, 1, 2… (in any
/// order); shape ids are assigned in reading order from 1.
pub fn read(text: &str) -> Result<Annotations, FormatError> {
    let parsed = xml::parse(FORMAT, text)?;
    let root = parsed.root_element();
    if !root.has_tag_name("annotations") {
        return Err(invalid(FORMAT, "the root element is not <annotations>"));
    }
    let task = task(FORMAT, root)?;
    let mut doc = Annotations {
        name: child_text(task, "name").to_owned(),
        labels: read_labels(FORMAT, task)?,
        ..Annotations::default()
    };
    let images: Vec<_> = root
        .children()
        .filter(|n| n.is_element() && n.has_tag_name("image"))
        .collect();
    let mut frames: Vec<Option<Frame>> = vec![None; images.len()];
    for image in &images {
        let id: usize = number(FORMAT, "image id", attr(FORMAT, *image, "id")?)?;
        let slot = frames.get_mut(id).ok_or_else(|| {
            invalid(
                FORMAT,
                format!("image id {id} with only {} images", images.len()),
            )
        })?;
        if slot.is_some() {
            return Err(invalid(FORMAT, format!("image id {id} appears twice")));
        }
        *slot = Some(Frame {
            name: attr(FORMAT, *image, "name")?.to_owned(),
            width: number(FORMAT, "width", attr(FORMAT, *image, "width")?)?,
            height: number(FORMAT, "height", attr(FORMAT, *image, "height")?)?,
        });
    }
    doc.frames = frames.into_iter().flatten().collect();
    let mut next_id = 1;
    for image in &images {
        let frame: u32 = number(FORMAT, "image id", attr(FORMAT, *image, "id")?)?;
        for b in image.children().filter(|n| n.is_element()) {
            if !b.has_tag_name("box") {
                return Err(invalid(
                    FORMAT,
                    format!(
                        "unsupported shape <{}>: atelier annotates boxes",
                        b.tag_name().name()
                    ),
                ));
            }
            let coordinate = |name: &str| -> Result<f64, FormatError> {
                number(FORMAT, name, attr(FORMAT, b, name)?)
            };
            let shape = Shape {
                id: next_id,
                label: attr(FORMAT, b, "label")?.to_owned(),
                frame,
                bbox: BBox::new(
                    coordinate("xtl")?,
                    coordinate("ytl")?,
                    coordinate("xbr")?,
                    coordinate("ybr")?,
                ),
                occluded: b
                    .attribute("occluded")
                    .map_or(Ok(false), |v| flag(FORMAT, "occluded", v))?,
                z_order: b
                    .attribute("z_order")
                    .map_or(Ok(0), |v| number(FORMAT, "z_order", v))?,
                source: b.attribute("source").unwrap_or("manual").to_owned(),
                attributes: read_attributes(FORMAT, b)?,
            };
            doc.check_shape(&shape)?;
            doc.shapes.insert(next_id, shape);
            next_id += 1;
        }
    }
    doc.validate()?;
    Ok(doc)
}
