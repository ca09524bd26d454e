//! Listing the cascades of a directory by short name.
//!
//! OpenCV's cascades ship as `haarcascade_<name>.xml` and `lbpcascade_<name>.xml` (Debian's
//! `opencv-data` puts them in `/usr/share/opencv4/{haarcascades,lbpcascades}`, the
//! `opencv-python` wheels in `cv2/data`). The short name drops the `haarcascade_` prefix and turns
//! `lbpcascade_` into `lbp_`: `frontalface_default`, `eye`, `fullbody`, `frontalcatface`,
//! `lbp_frontalface_improved`…

use std::path::{Path, PathBuf};

use crate::{Cascade, HaarError};

/// One cascade file found by [`catalogue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CascadeEntry {
    /// Short name, e.g. `frontalface_default` or `lbp_frontalface_improved`.
    pub name: String,
    /// Full path of the XML file.
    pub path: PathBuf,
}

impl CascadeEntry {
    /// Reads and parses the cascade.
    pub fn load(&self) -> Result<Cascade, HaarError> {
        Cascade::from_file(&self.path)
    }
}

/// Directories where OpenCV's cascades are usually installed (Debian/Ubuntu and source builds).
pub fn default_cascade_dirs() -> Vec<PathBuf> {
    [
        "/usr/share/opencv4",
        "/usr/share/opencv",
        "/usr/local/share/opencv4",
    ]
    .iter()
    .map(PathBuf::from)
    .collect()
}

/// The short name of a cascade file name, or `None` if it is not an `.xml` file.
pub(crate) fn short_name(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".xml")?;
    if stem.is_empty() {
        return None;
    }
    Some(if let Some(rest) = stem.strip_prefix("haarcascade_") {
        rest.to_string()
    } else if let Some(rest) = stem.strip_prefix("lbpcascade_") {
        format!("lbp_{rest}")
    } else {
        stem.to_string()
    })
}

/// Lists the `.xml` cascades in `dir` and in its `haarcascades/` and `lbpcascades/`
/// subdirectories, sorted by short name. When two files share a name, the one directly in `dir`
/// wins, then `haarcascades/`, then `lbpcascades/`. Files are not parsed.
pub fn catalogue(dir: impl AsRef<Path>) -> Result<Vec<CascadeEntry>, HaarError> {
    let dir = dir.as_ref();
    let io = |path: &Path, e: std::io::Error| HaarError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut entries: Vec<CascadeEntry> = Vec::new();
    let mut scan = |d: &Path, required: bool| -> Result<(), HaarError> {
        let read = match std::fs::read_dir(d) {
            Ok(r) => r,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(d, e)),
        };
        let mut found = Vec::new();
        for item in read {
            let item = item.map_err(|e| io(d, e))?;
            let path = item.path();
            if !path.is_file() {
                continue;
            }
            let Some(name) = item.file_name().to_str().and_then(short_name) else {
                continue;
            };
            found.push(CascadeEntry { name, path });
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        for e in found {
            if !entries.iter().any(|x| x.name == e.name) {
                entries.push(e);
            }
        }
        Ok(())
    };
    scan(dir, true)?;
    scan(&dir.join("haarcascades"), false)?;
    scan(&dir.join("lbpcascades"), false)?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opencv_file_names_get_short_names() {
        assert_eq!(
            short_name("haarcascade_frontalface_default.xml").as_deref(),
            Some("frontalface_default")
        );
        assert_eq!(short_name("haarcascade_eye.xml").as_deref(), Some("eye"));
        assert_eq!(
            short_name("lbpcascade_frontalface_improved.xml").as_deref(),
            Some("lbp_frontalface_improved")
        );
        assert_eq!(
            short_name("my_detector.xml").as_deref(),
            Some("my_detector")
        );
        assert_eq!(short_name("README.txt"), None);
        assert_eq!(short_name(".xml"), None);
    }

    #[test]
    fn a_directory_and_its_cascade_subfolders_are_listed_by_name() {
        let root = std::env::temp_dir().join(format!("atelier-haar-cat-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("haarcascades")).unwrap();
        std::fs::create_dir_all(root.join("lbpcascades")).unwrap();
        std::fs::write(root.join("haarcascades/haarcascade_eye.xml"), "x").unwrap();
        std::fs::write(root.join("lbpcascades/lbpcascade_frontalface.xml"), "x").unwrap();
        std::fs::write(root.join("custom.xml"), "x").unwrap();
        std::fs::write(root.join("notes.txt"), "x").unwrap();
        let names: Vec<String> = catalogue(&root)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(names, vec!["custom", "eye", "lbp_frontalface"]);
    }

    #[test]
    fn a_missing_directory_is_an_io_error() {
        assert!(matches!(
            catalogue("/nonexistent/atelier/cascades"),
            Err(HaarError::Io { .. })
        ));
    }
}
