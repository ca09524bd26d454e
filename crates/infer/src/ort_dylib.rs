//! Finding, or provisioning, the ONNX Runtime shared library.
//!
//! `ort` is built with `load-dynamic`: nothing native is linked at build time, and the
//! library is loaded when the runtime starts. It is looked for, in order:
//!
//! 1. an explicit path in [`OrtLibraryConfig::dylib_path`];
//! 2. the `ORT_DYLIB_PATH` environment variable;
//! 3. the cache: `<cache_dir>/onnxruntime-1.31.1/libonnxruntime.so.1.31.1`, verified
//!    against its pinned sha256;
//! 4. otherwise (if [`OrtLibraryConfig::allow_download`]) it is provisioned into the
//!    cache: the pinned wheel `onnxruntime==1.31.1` (manylinux x86_64, cp311) is
//!    downloaded from PyPI, its sha256 checked, and only the `.so` extracted.
//!
//! So `atelier serve` on a fresh Linux x86_64 machine needs nothing installed by hand.

use std::env;
use std::path::{Path, PathBuf};

use crate::download::{self, FetchError, PinnedWheel};

/// The ONNX Runtime version `ort` 2.0.0-rc.15 targets.
pub const ORT_VERSION: &str = "1.31.1";
/// The pinned wheel's file name on PyPI.
pub const ORT_WHEEL_FILE: &str = "onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl";
/// The pinned wheel's address on PyPI.
pub const ORT_WHEEL_URL: &str = "https://files.pythonhosted.org/packages/b4/1d/0f85ee31a3d93f2243a5cc29252becf858f53ac5cfa6c9c15d9ffe107eea/onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl";
/// The pinned wheel's sha256.
pub const ORT_WHEEL_SHA256: &str =
    "5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f";
/// The shared library's path inside the wheel.
pub const ORT_WHEEL_MEMBER: &str = "onnxruntime/capi/libonnxruntime.so.1.31.1";
/// The sha256 of the extracted shared library.
pub const ORT_LIBRARY_SHA256: &str =
    "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3";
const ORT_LIBRARY_MAX_BYTES: u64 = 256 << 20;

/// Where to look for the ONNX Runtime library and whether it may be downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrtLibraryConfig {
    /// Use this file and nothing else (overrides `ORT_DYLIB_PATH`).
    pub dylib_path: Option<PathBuf>,
    /// The cache directory (see [`default_cache_dir`]).
    pub cache_dir: PathBuf,
    /// Whether the pinned wheel may be fetched from PyPI when the cache is empty.
    pub allow_download: bool,
    /// A package mirror to fetch the wheel from instead of PyPI (see
    /// [`download::mirror_url`]).
    pub mirror: Option<String>,
}

impl Default for OrtLibraryConfig {
    fn default() -> Self {
        Self {
            dylib_path: None,
            cache_dir: default_cache_dir(),
            allow_download: true,
            mirror: None,
        }
    }
}

/// Where the library was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LibrarySource {
    /// The path given in the configuration.
    Configured,
    /// The `ORT_DYLIB_PATH` environment variable.
    EnvVar,
    /// Already in the cache.
    Cache,
    /// Just provisioned into the cache from PyPI.
    Downloaded,
}

/// A located ONNX Runtime shared library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrtLibrary {
    /// The library file.
    pub path: PathBuf,
    /// How it was found.
    pub source: LibrarySource,
}

/// Why the library could not be located or provisioned.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// A configured or `ORT_DYLIB_PATH` file does not exist.
    #[error("{what} points to {path}, which does not exist")]
    Missing {
        /// Which setting.
        what: &'static str,
        /// The path it gave.
        path: PathBuf,
    },
    /// The cache is empty and downloading is disabled.
    #[error("not in the cache ({path}) and downloading is disabled")]
    NotCached {
        /// The expected cache path.
        path: PathBuf,
    },
    /// The pinned wheel exists only for Linux x86_64.
    #[error("no pinned ONNX Runtime build for {os}/{arch}; set ORT_DYLIB_PATH")]
    UnsupportedPlatform {
        /// `std::env::consts::OS`.
        os: &'static str,
        /// `std::env::consts::ARCH`.
        arch: &'static str,
    },
    /// Downloading, verifying or extracting failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// atelier's default cache directory: `$ATELIER_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/atelier`, else `$HOME/.cache/atelier`, else `./.atelier-cache`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = env::var_os("ATELIER_CACHE_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir).join("atelier");
    }
    if let Some(home) = env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join(".cache").join("atelier");
    }
    PathBuf::from(".atelier-cache")
}

/// The pinned wheel as a [`PinnedWheel`].
pub fn pinned_wheel() -> PinnedWheel {
    PinnedWheel {
        spec: format!("onnxruntime=={ORT_VERSION}"),
        file: ORT_WHEEL_FILE.to_string(),
        url: ORT_WHEEL_URL.to_string(),
        sha256: ORT_WHEEL_SHA256.to_string(),
        pip_args: [
            "--platform",
            "manylinux_2_28_x86_64",
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
        ]
        .map(String::from)
        .to_vec(),
    }
}

/// The path the cached library has (whether or not it exists yet).
pub fn cached_library_path(cache_dir: &Path) -> PathBuf {
    cache_dir
        .join(format!("onnxruntime-{ORT_VERSION}"))
        .join(format!("libonnxruntime.so.{ORT_VERSION}"))
}

/// Finds the library, provisioning it into the cache if allowed (see the module docs).
pub fn locate_or_provision(config: &OrtLibraryConfig) -> Result<OrtLibrary, ProvisionError> {
    if let Some(path) = &config.dylib_path {
        return existing(
            path,
            "the configured ONNX Runtime path",
            LibrarySource::Configured,
        );
    }
    if let Some(path) = env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
        return existing(Path::new(&path), "ORT_DYLIB_PATH", LibrarySource::EnvVar);
    }
    let cached = cached_library_path(&config.cache_dir);
    if cached.is_file() && download::verify_sha256(&cached, ORT_LIBRARY_SHA256).is_ok() {
        return Ok(OrtLibrary {
            path: cached,
            source: LibrarySource::Cache,
        });
    }
    if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")) {
        return Err(ProvisionError::UnsupportedPlatform {
            os: env::consts::OS,
            arch: env::consts::ARCH,
        });
    }
    if !config.allow_download {
        return Err(ProvisionError::NotCached { path: cached });
    }
    let wheels = config.cache_dir.join("wheels");
    let wheel =
        download::ensure_wheel(&pinned_wheel().mirrored(config.mirror.as_deref()), &wheels)?;
    download::extract_member(&wheel, ORT_WHEEL_MEMBER, &cached, ORT_LIBRARY_MAX_BYTES)?;
    download::verify_sha256(&cached, ORT_LIBRARY_SHA256)?;
    // The library is all we need; the 24 MB wheel can go.
    let _ = std::fs::remove_file(&wheel);
    tracing::info!(path = %cached.display(), "provisioned ONNX Runtime {ORT_VERSION} from PyPI");
    Ok(OrtLibrary {
        path: cached,
        source: LibrarySource::Downloaded,
    })
}

fn existing(
    path: &Path,
    what: &'static str,
    source: LibrarySource,
) -> Result<OrtLibrary, ProvisionError> {
    if path.is_file() {
        Ok(OrtLibrary {
            path: path.to_path_buf(),
            source,
        })
    } else {
        Err(ProvisionError::Missing {
            what,
            path: path.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_path_that_does_not_exist_is_reported_not_searched_past() {
        let config = OrtLibraryConfig {
            dylib_path: Some(PathBuf::from("/nonexistent/libonnxruntime.so")),
            cache_dir: PathBuf::from("/nonexistent"),
            allow_download: false,
            mirror: None,
        };
        assert!(matches!(
            locate_or_provision(&config),
            Err(ProvisionError::Missing { .. })
        ));
    }

    #[test]
    fn the_cached_library_lives_in_a_versioned_folder() {
        assert_eq!(
            cached_library_path(Path::new("/c")),
            PathBuf::from("/c/onnxruntime-1.31.1/libonnxruntime.so.1.31.1")
        );
    }
}
