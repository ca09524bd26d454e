//! Fetching pinned files: HTTP download (or `pip download`) into a cache, sha256
//! verification, and extraction of one member from a wheel (a zip file).
//!
//! Every write goes to a temporary file in the destination directory that is renamed
//! into place only once complete and verified, so concurrent fetches and interrupted
//! ones never leave a half-written file under its final name.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

/// Why fetching or verifying a pinned file failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A local file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The HTTP download failed.
    #[error("downloading {url}: {message}")]
    Http {
        /// The address.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// Both the direct download and `pip download` failed.
    #[error("cannot fetch {file}: direct download failed ({direct}); pip download failed ({pip})")]
    Unavailable {
        /// The file wanted.
        file: String,
        /// Why the direct download failed.
        direct: String,
        /// Why `pip download` failed.
        pip: String,
    },
    /// `pip download` failed or is not installed.
    #[error("pip download {spec}: {message}")]
    Pip {
        /// The requirement, e.g. `onnxruntime==1.31.1`.
        spec: String,
        /// What went wrong.
        message: String,
    },
    /// A file's checksum is not the pinned one.
    #[error("checksum mismatch for {path}: expected sha256 {expected}, got {actual}")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The pinned sha256.
        expected: String,
        /// The file's sha256.
        actual: String,
    },
    /// The archive is not a valid zip or lacks the wanted member.
    #[error("archive {path}: {message}")]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// A pinned file inside a PyPI package's wheel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedWheel {
    /// Requirement for `pip download`, e.g. `onnxruntime==1.31.1`.
    pub spec: String,
    /// The wheel's file name as published on PyPI.
    pub file: String,
    /// The wheel's address on PyPI.
    pub url: String,
    /// The wheel's sha256 (hex).
    pub sha256: String,
    /// Extra `pip download` arguments that select exactly this wheel
    /// (e.g. `--platform manylinux_2_28_x86_64 --python-version 3.11`).
    pub pip_args: Vec<String>,
}

pub(crate) fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> FetchError {
    let path = path.to_path_buf();
    move |source| FetchError::Io {
        action,
        path,
        source,
    }
}

/// The sha256 of a file, as lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String, FetchError> {
    let mut file = File::open(path).map_err(io_err("opening", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io_err("reading", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// The sha256 of a byte slice, as lower-case hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fails unless the file at `path` has the sha256 `expected`.
pub fn verify_sha256(path: &Path, expected: &str) -> Result<(), FetchError> {
    let actual = sha256_file(path)?;
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(FetchError::Checksum {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        })
    }
}

/// A unique temporary path next to `dest`, for write-then-rename.
pub(crate) fn temp_path(dest: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.{}.{n}.part", std::process::id()))
}

/// Writes `bytes` to `dest` atomically (temporary file, then rename).
pub(crate) fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), FetchError> {
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
    }
    let tmp = temp_path(dest);
    fs::write(&tmp, bytes).map_err(io_err("writing", &tmp))?;
    fs::rename(&tmp, dest).map_err(io_err("renaming into", dest))
}

/// Makes sure the wheel is in `dir` with its pinned checksum, downloading it if needed:
/// first over HTTPS from its PyPI address, then with `python3 -m pip download` (which
/// honours a local pip configuration: mirrors, proxies, `--find-links`).
pub fn ensure_wheel(wheel: &PinnedWheel, dir: &Path) -> Result<PathBuf, FetchError> {
    let dest = dir.join(&wheel.file);
    if dest.is_file() && verify_sha256(&dest, &wheel.sha256).is_ok() {
        return Ok(dest);
    }
    fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
    let http = fetch_verified(&wheel.url, &wheel.sha256, &dest);
    match http {
        Ok(()) => Ok(dest),
        Err(http_err) => {
            tracing::warn!(error = %http_err, "direct download failed, trying pip download");
            pip_download(wheel, dir).map_err(|pip_err| FetchError::Unavailable {
                file: wheel.file.clone(),
                direct: http_err.to_string(),
                pip: pip_err.to_string(),
            })?;
            Ok(dest)
        }
    }
}

/// The address of the package file `file` in a mirror: `MIRROR/FILE`. A mirror is an
/// `https://` or `http://` address, a `file://` folder, or a plain folder path (an internal
/// package mirror, or a folder of wheels carried to an air-gapped machine).
pub fn mirror_url(mirror: &str, file: &str) -> String {
    let base = if mirror.contains("://") {
        mirror.to_owned()
    } else {
        let path = Path::new(mirror);
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        format!("file://{}", absolute.display())
    };
    format!("{}/{file}", base.trim_end_matches('/'))
}

impl PinnedWheel {
    /// The same wheel, fetched from `mirror` (see [`mirror_url`]) instead of its canonical
    /// address when a mirror is given.
    pub fn mirrored(mut self, mirror: Option<&str>) -> Self {
        if let Some(mirror) = mirror.filter(|m| !m.is_empty()) {
            self.url = mirror_url(mirror, &self.file);
        }
        self
    }
}

/// Fetches `url` to `dest`, verifying its sha256 before it appears under its name: a
/// `file://` address is copied, anything else downloaded.
pub fn fetch_verified(url: &str, sha256: &str, dest: &Path) -> Result<(), FetchError> {
    let Some(source) = url.strip_prefix("file://") else {
        return download_verified(url, sha256, dest);
    };
    let source = Path::new(source);
    verify_sha256(source, sha256)?;
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
    }
    let tmp = temp_path(dest);
    let result = fs::copy(source, &tmp)
        .map_err(io_err("copying", source))
        .and_then(|_| verify_sha256(&tmp, sha256))
        .and_then(|()| fs::rename(&tmp, dest).map_err(io_err("renaming into", dest)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Downloads `url` to `dest`: not in this build (the `download` feature is off).
#[cfg(not(feature = "download"))]
pub fn download_verified(url: &str, _sha256: &str, _dest: &Path) -> Result<(), FetchError> {
    Err(FetchError::Http {
        url: url.to_string(),
        message: "this build cannot download (built without the `download` feature)".into(),
    })
}

/// Downloads `url` to `dest`, verifying its sha256 before it appears under its name.
#[cfg(feature = "download")]
pub fn download_verified(url: &str, sha256: &str, dest: &Path) -> Result<(), FetchError> {
    use std::{io::Write, time::Duration};
    let http_err = |message: String| FetchError::Http {
        url: url.to_string(),
        message,
    };
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_global(Some(Duration::from_secs(900)))
        .build()
        .into();
    tracing::info!(%url, "downloading");
    let mut response = agent.get(url).call().map_err(|e| http_err(e.to_string()))?;
    let mut reader = response.body_mut().with_config().limit(2 << 30).reader();
    let tmp = temp_path(dest);
    let result = (|| {
        let mut file = File::create(&tmp).map_err(io_err("creating", &tmp))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader.read(&mut buf).map_err(|e| http_err(e.to_string()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n]).map_err(io_err("writing", &tmp))?;
        }
        file.sync_all().map_err(io_err("syncing", &tmp))?;
        let actual = hex(&hasher.finalize());
        if !actual.eq_ignore_ascii_case(sha256) {
            return Err(FetchError::Checksum {
                path: dest.to_path_buf(),
                expected: sha256.to_string(),
                actual,
            });
        }
        fs::rename(&tmp, dest).map_err(io_err("renaming into", dest))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn pip_download(wheel: &PinnedWheel, dir: &Path) -> Result<(), FetchError> {
    let pip_err = |message: String| FetchError::Pip {
        spec: wheel.spec.clone(),
        message,
    };
    let scratch = dir.join(format!(".pip-{}", std::process::id()));
    fs::create_dir_all(&scratch).map_err(io_err("creating", &scratch))?;
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
        ])
        .arg(&scratch)
        .args(&wheel.pip_args)
        .arg(&wheel.spec)
        .output()
        .map_err(|e| pip_err(format!("cannot run python3: {e}")))?;
    let result = (|| {
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(pip_err(
                stderr.lines().last().unwrap_or("failed").to_string(),
            ));
        }
        let got = scratch.join(&wheel.file);
        verify_sha256(&got, &wheel.sha256)?;
        let dest = dir.join(&wheel.file);
        fs::rename(&got, &dest).map_err(io_err("renaming into", &dest))
    })();
    let _ = fs::remove_dir_all(&scratch);
    result
}

/// Extracts the member `member` of the zip file `archive` to `dest` (atomically).
/// At most `max_bytes` are extracted, so a hostile archive cannot fill the disk.
pub fn extract_member(
    archive: &Path,
    member: &str,
    dest: &Path,
    max_bytes: u64,
) -> Result<(), FetchError> {
    let arch_err = |message: String| FetchError::Archive {
        path: archive.to_path_buf(),
        message,
    };
    let file = File::open(archive).map_err(io_err("opening", archive))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| arch_err(e.to_string()))?;
    let mut entry = zip
        .by_name(member)
        .map_err(|e| arch_err(format!("{member}: {e}")))?;
    if entry.size() > max_bytes {
        return Err(arch_err(format!(
            "{member} is {} bytes, more than the {max_bytes} allowed",
            entry.size()
        )));
    }
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
    }
    let tmp = temp_path(dest);
    let result = (|| {
        let mut out = File::create(&tmp).map_err(io_err("creating", &tmp))?;
        let copied = io::copy(&mut (&mut entry).take(max_bytes + 1), &mut out)
            .map_err(|e| arch_err(format!("{member}: {e}")))?;
        if copied > max_bytes {
            return Err(arch_err(format!(
                "{member} is larger than {max_bytes} bytes"
            )));
        }
        out.sync_all().map_err(io_err("syncing", &tmp))?;
        fs::rename(&tmp, dest).map_err(io_err("renaming into", dest))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sha256_of_abc_is_the_published_test_vector() {
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_file_with_the_wrong_checksum_fails_verification() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        fs::write(&path, b"abc").expect("write");
        assert!(verify_sha256(&path, &sha256_bytes(b"abc")).is_ok());
        assert!(matches!(
            verify_sha256(&path, &sha256_bytes(b"abd")),
            Err(FetchError::Checksum { .. })
        ));
    }

    #[test]
    fn a_mirror_serves_files_by_name_and_a_folder_is_a_file_url() {
        assert_eq!(
            mirror_url("http://127.0.0.1:9/simple/", "a.whl"),
            "http://127.0.0.1:9/simple/a.whl"
        );
        assert_eq!(
            mirror_url("/srv/wheels", "a.whl"),
            "file:///srv/wheels/a.whl"
        );
    }

    #[test]
    fn a_file_url_is_copied_only_with_its_checksum() {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("src.whl");
        fs::write(&source, b"abc").expect("write");
        let url = mirror_url(dir.path().to_str().expect("utf8"), "src.whl");
        let dest = dir.path().join("out/dest.whl");
        fetch_verified(&url, &sha256_bytes(b"abc"), &dest).expect("copied");
        assert_eq!(fs::read(&dest).expect("read"), b"abc");
        let other = dir.path().join("out/other.whl");
        assert!(fetch_verified(&url, &sha256_bytes(b"abd"), &other).is_err());
        assert!(!other.exists());
    }

    #[test]
    fn a_missing_archive_member_is_an_archive_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("not-a-zip.whl");
        fs::write(&path, b"definitely not a zip").expect("write");
        let err = extract_member(&path, "x", &dir.path().join("x"), 10);
        assert!(matches!(err, Err(FetchError::Archive { .. })));
    }
}
