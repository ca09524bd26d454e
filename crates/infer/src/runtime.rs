//! Choosing the runtime at start-up: ONNX Runtime if its library can be had, else rten.

use std::path::Path;
use std::sync::Arc;

use crate::ort_backend::OrtEnvironment;
use crate::ort_dylib::{self, LibrarySource, OrtLibraryConfig};
use crate::rten_backend::RtenModel;
use crate::{BackendKind, InferError, LanedModel, Model};

/// Which runtime to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuntimePreference {
    /// ONNX Runtime, falling back to rten if its library cannot be loaded.
    #[default]
    Auto,
    /// ONNX Runtime or an error.
    OnnxRuntime,
    /// rten only.
    Rten,
}

/// How the runtime is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Which runtime to use.
    pub preference: RuntimePreference,
    /// Threads used inside one operator (ONNX Runtime's intra-op pool, rten's pool).
    pub intra_threads: usize,
    /// Let ONNX Runtime's threads spin while waiting for work: lower latency, but
    /// burns CPU that the rest of the server may need. Off by default.
    pub intra_op_spinning: bool,
    /// Where the ONNX Runtime library comes from.
    pub ort_library: OrtLibraryConfig,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            preference: RuntimePreference::Auto,
            intra_threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            intra_op_spinning: false,
            ort_library: OrtLibraryConfig::default(),
        }
    }
}

/// What `/readyz` and `atelier models list` report about the runtime.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuntimeInfo {
    /// The runtime in use.
    pub backend: BackendKind,
    /// Why it was chosen.
    pub reason: String,
    /// Intra-op threads per model.
    pub intra_threads: usize,
}

/// The chosen runtime; loads models onto it.
pub struct Runtime {
    kind: BackendKind,
    reason: String,
    intra_threads: usize,
    spinning: bool,
    ort: Option<Arc<OrtEnvironment>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("kind", &self.kind)
            .field("reason", &self.reason)
            .field("intra_threads", &self.intra_threads)
            .finish()
    }
}

impl Runtime {
    /// Picks the runtime according to `config.preference`: with `Auto`, ONNX Runtime if
    /// its library can be located (or provisioned) and loaded, else rten. Never fails
    /// for `Auto` and `Rten`; [`Runtime::reason`] says what was chosen and why.
    pub fn auto(config: &RuntimeConfig) -> Result<Self, InferError> {
        match config.preference {
            RuntimePreference::Rten => Ok(Self::rten(config, "rten was asked for".into())),
            RuntimePreference::OnnxRuntime => Self::onnxruntime(config),
            RuntimePreference::Auto => Ok(Self::onnxruntime(config).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "ONNX Runtime unavailable, falling back to rten");
                Self::rten(config, format!("fallback: {e}"))
            })),
        }
    }

    /// ONNX Runtime or an error.
    pub fn onnxruntime(config: &RuntimeConfig) -> Result<Self, InferError> {
        let lib = ort_dylib::locate_or_provision(&config.ort_library)
            .map_err(|e| InferError::OrtUnavailable(e.to_string()))?;
        let env = OrtEnvironment::shared(&lib.path)?;
        let how = match lib.source {
            LibrarySource::Configured => "configured path",
            LibrarySource::EnvVar => "ORT_DYLIB_PATH",
            LibrarySource::Cache => "cache",
            LibrarySource::Downloaded => "provisioned from PyPI",
        };
        let reason = format!(
            "ONNX Runtime {} loaded from {} ({how})",
            env.version(),
            lib.path.display()
        );
        tracing::info!("{reason}");
        Ok(Self {
            kind: BackendKind::OnnxRuntime,
            reason,
            intra_threads: config.intra_threads.max(1),
            spinning: config.intra_op_spinning,
            ort: Some(env),
        })
    }

    fn rten(config: &RuntimeConfig, reason: String) -> Self {
        Self {
            kind: BackendKind::Rten,
            reason,
            intra_threads: config.intra_threads.max(1),
            spinning: false,
            ort: None,
        }
    }

    /// The runtime in use.
    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// Why this runtime was chosen (for logs, `/readyz` and `atelier models list`).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Intra-op threads per model.
    pub fn intra_threads(&self) -> usize {
        self.intra_threads
    }

    /// A serialisable summary for health checks and listings.
    pub fn info(&self) -> RuntimeInfo {
        RuntimeInfo {
            backend: self.kind,
            reason: self.reason.clone(),
            intra_threads: self.intra_threads,
        }
    }

    /// Loads an ONNX model file on this runtime.
    pub fn load(&self, path: &Path) -> Result<Box<dyn Model>, InferError> {
        self.load_with_threads(path, self.intra_threads)
    }

    /// Loads an ONNX model file on this runtime with its own intra-op thread count.
    pub fn load_with_threads(
        &self,
        path: &Path,
        intra_threads: usize,
    ) -> Result<Box<dyn Model>, InferError> {
        let threads = intra_threads.max(1);
        match &self.ort {
            Some(env) => Ok(Box::new(env.load(path, threads, self.spinning)?)),
            None => Ok(Box::new(RtenModel::load(path, threads)?)),
        }
    }

    /// Loads an ONNX model as a [`LanedModel`]: a lone input runs on an instance with the
    /// runtime's intra-op threads, a batch is split across `lanes` single-threaded instances.
    /// With fewer than two lanes this is [`Runtime::load`].
    pub fn load_laned(&self, path: &Path, lanes: usize) -> Result<Box<dyn Model>, InferError> {
        if lanes < 2 {
            return self.load(path);
        }
        let solo = self.load(path)?;
        let lanes = (0..lanes)
            .map(|_| self.load_with_threads(path, 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Box::new(LanedModel::new(solo, lanes)))
    }

    /// Loads an ONNX model file on rten, whatever the chosen runtime (for comparisons).
    pub fn load_rten(&self, path: &Path) -> Result<Box<dyn Model>, InferError> {
        Ok(Box::new(RtenModel::load(path, self.intra_threads)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn auto_falls_back_to_rten_and_says_why_when_onnx_runtime_cannot_be_had() {
        let config = RuntimeConfig {
            intra_threads: 1,
            ort_library: OrtLibraryConfig {
                dylib_path: Some(PathBuf::from("/nonexistent/libonnxruntime.so")),
                cache_dir: PathBuf::from("/nonexistent"),
                allow_download: false,
                mirror: None,
            },
            ..RuntimeConfig::default()
        };
        let runtime = Runtime::auto(&config).expect("auto never fails");
        assert_eq!(runtime.kind(), BackendKind::Rten);
        assert!(
            runtime.reason().starts_with("fallback:"),
            "{}",
            runtime.reason()
        );
        let explicit = Runtime::auto(&RuntimeConfig {
            preference: RuntimePreference::OnnxRuntime,
            ..config
        });
        assert!(matches!(explicit, Err(InferError::OrtUnavailable(_))));
    }

    #[test]
    fn loading_a_file_that_is_not_a_model_is_a_load_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("garbage.onnx");
        std::fs::write(&path, b"\x08\x07garbage").expect("write");
        let runtime = Runtime::auto(&RuntimeConfig {
            preference: RuntimePreference::Rten,
            ..RuntimeConfig::default()
        })
        .expect("rten");
        assert!(matches!(runtime.load(&path), Err(InferError::Load { .. })));
        assert!(matches!(
            runtime.load(&dir.path().join("missing.onnx")),
            Err(InferError::Load { .. })
        ));
    }
}
