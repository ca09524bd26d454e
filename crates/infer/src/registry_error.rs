//! Why a model-registry operation failed: the error of the manifest, the cache and the
//! fetch/import commands (`atelier models …`), apart from both so that the manifest and the
//! registry depend on it and not on each other.

use std::path::PathBuf;

use crate::convert::ConvertError;
use crate::download::FetchError;

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The manifest is malformed.
    #[error("manifest: {0}")]
    Manifest(String),
    /// No model has this name.
    #[error("unknown model {0}")]
    UnknownModel(String),
    /// The name is not a valid model name.
    #[error("invalid model name {0:?} (use a-z, 0-9, '-', '_', '.')")]
    InvalidName(String),
    /// A model with this name already exists.
    #[error("a model called {0} already exists")]
    AlreadyExists(String),
    /// The model has no source to fetch it from.
    #[error("model {0} has no download source; import it instead")]
    NoSource(String),
    /// The model is not in the cache.
    #[error("model {name} is not in the cache ({path}); run `atelier models fetch {name}`")]
    NotFetched {
        /// The model.
        name: String,
        /// Where it should be.
        path: PathBuf,
    },
    /// A file given to `import` is not acceptable.
    #[error("cannot import: {0}")]
    Import(String),
    /// Downloading or verifying failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// Converting the checkpoint failed.
    #[error("converting to ONNX: {0}")]
    Convert(#[from] ConvertError),
}
