//! The `<meta>` block both CVAT XML formats share: task name, size and labels with colours and
//! attribute specs; and the `<attribute name="…">value</attribute>` lists of boxes.

use roxmltree::Node;

use super::xml::{Writer, attr, child, child_text, children};
use super::{FormatError, flag, invalid};
use crate::annotation::{Annotations, AttributeSpec, Attributes, InputType, Label, default_color};

/// Writes `<version>` and `<meta><task>…</task></meta>`; `extra` writes task-level elements
/// after the labels (the video format's `<original_size>`).
pub(crate) fn write_meta(
    w: &mut Writer,
    doc: &Annotations,
    mode: &str,
    extra: impl FnOnce(&mut Writer),
) {
    w.leaf("version", &[], "1.1");
    w.open("meta", &[]);
    w.open("task", &[]);
    w.leaf("name", &[], &doc.name);
    w.leaf("size", &[], &doc.frames.len().to_string());
    w.leaf("mode", &[], mode);
    w.open("labels", &[]);
    for label in &doc.labels {
        w.open("label", &[]);
        w.leaf("name", &[], &label.name);
        w.leaf("color", &[], &label.color);
        w.leaf("type", &[], "rectangle");
        w.open("attributes", &[]);
        for a in &label.attributes {
            w.open("attribute", &[]);
            w.leaf("name", &[], &a.name);
            w.leaf("mutable", &[], if a.mutable { "True" } else { "False" });
            w.leaf("input_type", &[], a.input_type.as_str());
            w.leaf("default_value", &[], &a.default_value);
            w.leaf("values", &[], &a.values.join("\n"));
            w.close("attribute");
        }
        w.close("attributes");
        w.close("label");
    }
    w.close("labels");
    extra(w);
    w.close("task");
    w.close("meta");
}

/// Writes `<attribute name="…">value</attribute>` for each value.
pub(crate) fn write_attributes<'a>(
    w: &mut Writer,
    values: impl IntoIterator<Item = (&'a String, &'a String)>,
) {
    for (name, value) in values {
        w.leaf("attribute", &[("name", name.clone())], value);
    }
}

/// Reads the attribute values below a box element.
pub(crate) fn read_attributes(
    format: &'static str,
    node: Node<'_, '_>,
) -> Result<Attributes, FormatError> {
    let mut out = Attributes::new();
    for a in children(node, "attribute") {
        out.insert(
            attr(format, a, "name")?.to_owned(),
            a.text().unwrap_or("").to_owned(),
        );
    }
    Ok(out)
}

/// The `<task>` element of the document.
pub(crate) fn task<'a, 'i>(
    format: &'static str,
    root: Node<'a, 'i>,
) -> Result<Node<'a, 'i>, FormatError> {
    child(root, "meta")
        .and_then(|m| {
            child(m, "task")
                .or_else(|| child(m, "job"))
                .or_else(|| child(m, "project"))
        })
        .ok_or_else(|| invalid(format, "no <meta><task>"))
}

/// Reads the labels of a `<task>` (or `<project>`) element.
pub(crate) fn read_labels(
    format: &'static str,
    task: Node<'_, '_>,
) -> Result<Vec<Label>, FormatError> {
    let Some(labels) = child(task, "labels") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, l) in children(labels, "label").enumerate() {
        let name = child_text(l, "name");
        if name.is_empty() {
            return Err(invalid(format, "a label has no name"));
        }
        let color = match child_text(l, "color") {
            "" => default_color(i),
            c => c.to_owned(),
        };
        let mut attributes = Vec::new();
        if let Some(list) = child(l, "attributes") {
            for a in children(list, "attribute") {
                let input = child_text(a, "input_type");
                let values = child_text(a, "values");
                attributes.push(AttributeSpec {
                    name: child_text(a, "name").to_owned(),
                    mutable: flag(format, "mutable", child_text(a, "mutable"))?,
                    input_type: InputType::parse(input)
                        .ok_or_else(|| invalid(format, format!("unknown input_type {input:?}")))?,
                    default_value: child_text(a, "default_value").to_owned(),
                    values: if values.is_empty() {
                        Vec::new()
                    } else {
                        values.split('\n').map(str::to_owned).collect()
                    },
                });
            }
        }
        out.push(Label {
            name: name.to_owned(),
            color,
            attributes,
        });
    }
    Ok(out)
}

/// Splits attribute values into (track-level, per-key-frame) by their label's `mutable` flag.
pub(crate) fn split_attributes(
    doc: &Annotations,
    label: &str,
    values: Attributes,
) -> (Attributes, Attributes) {
    let spec = doc.label(label).ok();
    values.into_iter().partition(|(name, _)| {
        !spec
            .and_then(|l| l.attributes.iter().find(|a| &a.name == name))
            .is_some_and(|a| a.mutable)
    })
}
