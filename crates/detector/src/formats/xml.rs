//! A small XML writer (escaping, indentation) and reader helpers over `roxmltree`.

use std::fmt::Write as _;

use roxmltree::Node;

use super::{FormatError, invalid};

/// Escapes text for element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Writes indented XML.
pub(crate) struct Writer {
    out: String,
    depth: usize,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Self {
            out: String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"),
            depth: 0,
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    fn open_tag(&mut self, name: &str, attrs: &[(&str, String)]) {
        self.indent();
        let _ = write!(self.out, "<{name}");
        for (k, v) in attrs {
            let _ = write!(self.out, " {k}=\"{}\"", escape(v));
        }
    }

    /// `<name attrs>` and a deeper level.
    pub(crate) fn open(&mut self, name: &str, attrs: &[(&str, String)]) {
        self.open_tag(name, attrs);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    /// `</name>`.
    pub(crate) fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.indent();
        let _ = writeln!(self.out, "</{name}>");
    }

    /// `<name attrs>text</name>` (or `<name attrs/>` when there is no text).
    pub(crate) fn leaf(&mut self, name: &str, attrs: &[(&str, String)], text: &str) {
        self.open_tag(name, attrs);
        if text.is_empty() {
            self.out.push_str("/>\n");
        } else {
            let _ = writeln!(self.out, ">{}</{name}>", escape(text));
        }
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// Parses a document.
pub(crate) fn parse<'a>(
    format: &'static str,
    text: &'a str,
) -> Result<roxmltree::Document<'a>, FormatError> {
    roxmltree::Document::parse(text).map_err(|e| FormatError::Parse {
        format,
        reason: e.to_string(),
    })
}

/// Child elements named `name`.
pub(crate) fn children<'a, 'i>(
    node: Node<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.has_tag_name(name))
}

/// The first child element named `name`.
pub(crate) fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children()
        .find(|c| c.is_element() && c.has_tag_name(name))
}

/// The text of the child element `name` ("" when empty or absent).
pub(crate) fn child_text<'a>(node: Node<'a, '_>, name: &str) -> &'a str {
    child(node, name).and_then(|c| c.text()).unwrap_or("")
}

/// A required attribute.
pub(crate) fn attr<'a>(
    format: &'static str,
    node: Node<'a, '_>,
    name: &str,
) -> Result<&'a str, FormatError> {
    node.attribute(name).ok_or_else(|| {
        invalid(
            format,
            format!("<{}> lacks the attribute {name:?}", node.tag_name().name()),
        )
    })
}
