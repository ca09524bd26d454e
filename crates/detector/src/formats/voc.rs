//! Pascal VOC as CVAT writes it: `Annotations/<image stem>.xml` per image (file name, size, one
//! `<object>` per box with `name`, `occluded`, `bndbox`, and CVAT's `<attributes>`),
//! `ImageSets/Main/default.txt` (the image order) and `labelmap.txt` (`name:r,g,b::` per label).
//!
//! Carries labels with colours, boxes, occlusion and attribute values; not tracks (a track is
//! written as its visible boxes) nor attribute specs (each attribute seen becomes a mutable text
//! attribute).

use super::xml::{self, Writer, child, child_text, children};
use super::{ExportFile, FormatError, declare_attributes, flag, invalid, number, stem};
use crate::annotation::{Annotations, Attributes, Frame, Label, Shape, default_color, parse_color};
use crate::geometry::BBox;

const FORMAT: &str = "Pascal VOC";

/// Writes a document as VOC files.
pub fn write(doc: &Annotations) -> Vec<ExportFile> {
    let mut labelmap = String::from("# label:color_rgb:parts:actions\n");
    for l in &doc.labels {
        let [r, g, b] = l.rgb().unwrap_or([0, 0, 0]);
        labelmap.push_str(&format!("{}:{r},{g},{b}::\n", l.name));
    }
    let mut files = vec![ExportFile {
        path: "labelmap.txt".into(),
        bytes: labelmap.into_bytes(),
    }];
    let mut list = String::new();
    for (n, frame) in doc.frames.iter().enumerate() {
        list.push_str(stem(&frame.name));
        list.push('\n');
        let mut w = Writer::new();
        w.open("annotation", &[]);
        w.leaf("folder", &[], "");
        w.leaf("filename", &[], &frame.name);
        w.open("source", &[]);
        w.leaf("database", &[], "Unknown");
        w.leaf("annotation", &[], "Unknown");
        w.leaf("image", &[], "Unknown");
        w.close("source");
        w.open("size", &[]);
        w.leaf("width", &[], &frame.width.to_string());
        w.leaf("height", &[], &frame.height.to_string());
        w.leaf("depth", &[], "3");
        w.close("size");
        w.leaf("segmented", &[], "0");
        for b in doc.boxes_on(n as u32) {
            w.open("object", &[]);
            w.leaf("name", &[], &b.label);
            w.leaf("truncated", &[], "0");
            w.leaf("occluded", &[], if b.occluded { "1" } else { "0" });
            w.leaf("difficult", &[], "0");
            w.open("bndbox", &[]);
            w.leaf("xmin", &[], &b.bbox.xtl.to_string());
            w.leaf("ymin", &[], &b.bbox.ytl.to_string());
            w.leaf("xmax", &[], &b.bbox.xbr.to_string());
            w.leaf("ymax", &[], &b.bbox.ybr.to_string());
            w.close("bndbox");
            if !b.attributes.is_empty() {
                w.open("attributes", &[]);
                for (k, v) in &b.attributes {
                    w.open("attribute", &[]);
                    w.leaf("name", &[], k);
                    w.leaf("value", &[], v);
                    w.close("attribute");
                }
                w.close("attributes");
            }
            w.close("object");
        }
        w.close("annotation");
        files.push(ExportFile {
            path: format!("Annotations/{}.xml", stem(&frame.name)),
            bytes: w.finish().into_bytes(),
        });
    }
    files.push(ExportFile {
        path: "ImageSets/Main/default.txt".into(),
        bytes: list.into_bytes(),
    });
    files
}

fn utf8(f: &ExportFile) -> Result<&str, FormatError> {
    std::str::from_utf8(&f.bytes).map_err(|_| FormatError::Parse {
        format: FORMAT,
        reason: format!("{} is not UTF-8", f.path),
    })
}

/// Reads VOC files. Images come in the order of `ImageSets/Main/default.txt` when present, else
/// by file name; labels from `labelmap.txt` when present, else in order of first use.
pub fn read(files: &[ExportFile]) -> Result<Annotations, FormatError> {
    let mut doc = Annotations::default();
    if let Some(map) = files.iter().find(|f| f.path.ends_with("labelmap.txt")) {
        for line in utf8(map)?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let mut parts = line.split(':');
            let name = parts.next().unwrap_or("").to_owned();
            let rgb: Vec<u8> = parts
                .next()
                .unwrap_or("")
                .split(',')
                .filter_map(|c| c.trim().parse().ok())
                .collect();
            let color = match rgb.as_slice() {
                [r, g, b] => format!("#{r:02x}{g:02x}{b:02x}"),
                _ => default_color(doc.labels.len()),
            };
            if parse_color(&color).is_none() || name.is_empty() {
                return Err(invalid(FORMAT, format!("labelmap.txt: bad line {line:?}")));
            }
            doc.labels.push(Label::new(&name, &color));
        }
    }
    let mut annotations: Vec<&ExportFile> = files
        .iter()
        .filter(|f| f.path.contains("Annotations/") && f.path.ends_with(".xml"))
        .collect();
    annotations.sort_by(|a, b| a.path.cmp(&b.path));
    if let Some(list) = files
        .iter()
        .find(|f| f.path.ends_with("ImageSets/Main/default.txt"))
    {
        let order: Vec<&str> = utf8(list)?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let mut ordered = Vec::with_capacity(annotations.len());
        for name in order {
            let file = annotations
                .iter()
                .find(|f| stem(&f.path) == name)
                .ok_or_else(|| FormatError::UnknownImage {
                    format: FORMAT,
                    name: name.to_owned(),
                })?;
            ordered.push(*file);
        }
        annotations = ordered;
    }
    let known_labels = !doc.labels.is_empty();
    let mut pending = Vec::new();
    for (n, file) in annotations.iter().enumerate() {
        let text = utf8(file)?;
        let parsed = xml::parse(FORMAT, text)?;
        let root = parsed.root_element();
        let size = child(root, "size")
            .ok_or_else(|| invalid(FORMAT, format!("{}: no <size>", file.path)))?;
        let filename = match child_text(root, "filename") {
            "" => stem(&file.path).to_owned(),
            f => f.to_owned(),
        };
        doc.frames.push(Frame {
            name: filename,
            width: number(FORMAT, "width", child_text(size, "width"))?,
            height: number(FORMAT, "height", child_text(size, "height"))?,
        });
        for object in children(root, "object") {
            let label = child_text(object, "name").to_owned();
            if !known_labels && doc.label(&label).is_err() {
                let color = default_color(doc.labels.len());
                doc.labels.push(Label::new(&label, &color));
            }
            let bnd = child(object, "bndbox").ok_or_else(|| {
                invalid(FORMAT, format!("{}: an object has no <bndbox>", file.path))
            })?;
            let c = |name: &str| -> Result<f64, FormatError> {
                number(FORMAT, name, child_text(bnd, name))
            };
            let mut attributes = Attributes::new();
            if let Some(list) = child(object, "attributes") {
                for a in children(list, "attribute") {
                    attributes.insert(
                        child_text(a, "name").to_owned(),
                        child_text(a, "value").to_owned(),
                    );
                }
            }
            let occluded = match child_text(object, "occluded") {
                "" => false,
                v => flag(FORMAT, "occluded", v)?,
            };
            pending.push(Shape {
                id: pending.len() as u64 + 1,
                label,
                frame: n as u32,
                bbox: BBox::new(c("xmin")?, c("ymin")?, c("xmax")?, c("ymax")?),
                occluded,
                z_order: 0,
                source: "manual".into(),
                attributes,
            });
        }
    }
    for shape in pending {
        declare_attributes(&mut doc, &shape.label, &shape.attributes)?;
        doc.check_shape(&shape)?;
        doc.shapes.insert(shape.id, shape);
    }
    doc.validate()?;
    Ok(doc)
}
