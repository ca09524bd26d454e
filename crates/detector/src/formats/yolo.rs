//! YOLO 1.1 (Darknet) as CVAT writes it: `obj.names` (one label per line), `obj.data`,
//! `train.txt` (the image list) and `obj_train_data/<image stem>.txt` with one
//! `class x_center y_center width height` line per box, normalised to the image size.
//!
//! The format carries labels and boxes only (no colours, attributes, occlusion or tracks), and no
//! image sizes: the reader takes the media's frames. Coordinates are written with full `f64`
//! precision, so boxes come back up to the rounding of the normalisation.

use super::{ExportFile, FormatError, invalid, number, snap, stem};
use crate::annotation::{Annotations, Frame, Label, Shape, default_color};
use crate::geometry::BBox;

const FORMAT: &str = "YOLO 1.1";

/// Writes a document as YOLO files.
pub fn write(doc: &Annotations) -> Vec<ExportFile> {
    let names: String = doc.labels.iter().map(|l| format!("{}\n", l.name)).collect();
    let data = format!(
        "classes = {}\ntrain = data/train.txt\nnames = data/obj.names\nbackup = backup/\n",
        doc.labels.len()
    );
    let mut list = String::new();
    let mut files = vec![
        ExportFile {
            path: "obj.names".into(),
            bytes: names.into_bytes(),
        },
        ExportFile {
            path: "obj.data".into(),
            bytes: data.into_bytes(),
        },
    ];
    for (n, frame) in doc.frames.iter().enumerate() {
        list.push_str(&format!("data/obj_train_data/{}\n", frame.name));
        let (w, h) = (f64::from(frame.width), f64::from(frame.height));
        let mut text = String::new();
        for b in doc.boxes_on(n as u32) {
            let class = doc.label_index(&b.label).unwrap_or(0);
            let cx = (b.bbox.xtl + b.bbox.xbr) / 2.0 / w;
            let cy = (b.bbox.ytl + b.bbox.ybr) / 2.0 / h;
            text.push_str(&format!(
                "{class} {cx} {cy} {} {}\n",
                b.bbox.width() / w,
                b.bbox.height() / h
            ));
        }
        files.push(ExportFile {
            path: format!("obj_train_data/{}.txt", stem(&frame.name)),
            bytes: text.into_bytes(),
        });
    }
    files.push(ExportFile {
        path: "train.txt".into(),
        bytes: list.into_bytes(),
    });
    files
}

fn text(f: &ExportFile) -> Result<&str, FormatError> {
    std::str::from_utf8(&f.bytes).map_err(|_| FormatError::Parse {
        format: FORMAT,
        reason: format!("{} is not UTF-8", f.path),
    })
}

/// Reads YOLO files against the media's `frames` (matched by file stem). A box file for an image
/// the media lacks is an error; images without a file have no boxes.
pub fn read(files: &[ExportFile], frames: &[Frame]) -> Result<Annotations, FormatError> {
    let names = files
        .iter()
        .find(|f| f.path.rsplit('/').next() == Some("obj.names"))
        .ok_or_else(|| invalid(FORMAT, "no obj.names"))?;
    let labels: Vec<Label> = text(names)?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, name)| Label::new(name, &default_color(i)))
        .collect();
    let mut doc = Annotations {
        labels,
        frames: frames.to_vec(),
        ..Annotations::default()
    };
    let mut next = 1;
    for file in files {
        let Some(name) = file.path.strip_suffix(".txt") else {
            continue;
        };
        if !name.contains("obj_") || !file.path.contains("_data/") {
            continue;
        }
        let wanted = stem(&file.path);
        let frame = frames
            .iter()
            .position(|f| stem(&f.name) == wanted)
            .ok_or_else(|| FormatError::UnknownImage {
                format: FORMAT,
                name: wanted.to_owned(),
            })? as u32;
        let (w, h) = (
            f64::from(frames[frame as usize].width),
            f64::from(frames[frame as usize].height),
        );
        for (line_no, line) in text(file)?.lines().enumerate() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.is_empty() {
                continue;
            }
            if fields.len() != 5 {
                return Err(invalid(
                    FORMAT,
                    format!("{} line {}: expected 5 fields", file.path, line_no + 1),
                ));
            }
            let class: usize = number(FORMAT, "class", fields[0])?;
            let label = doc
                .labels
                .get(class)
                .ok_or_else(|| {
                    invalid(
                        FORMAT,
                        format!(
                            "{} line {}: class {class} is not in obj.names",
                            file.path,
                            line_no + 1
                        ),
                    )
                })?
                .name
                .clone();
            let v: Vec<f64> = fields[1..]
                .iter()
                .map(|t| number(FORMAT, "coordinate", t))
                .collect::<Result<_, _>>()?;
            let (cx, cy, bw, bh) = (v[0] * w, v[1] * h, v[2] * w, v[3] * h);
            let shape = Shape {
                id: next,
                label,
                frame,
                bbox: snap(
                    BBox::new(cx - bw / 2.0, cy - bh / 2.0, cx + bw / 2.0, cy + bh / 2.0),
                    frames[frame as usize].width,
                    frames[frame as usize].height,
                ),
                occluded: false,
                z_order: 0,
                source: "manual".into(),
                attributes: Default::default(),
            };
            doc.check_shape(&shape)?;
            doc.shapes.insert(next, shape);
            next += 1;
        }
    }
    doc.validate()?;
    Ok(doc)
}
