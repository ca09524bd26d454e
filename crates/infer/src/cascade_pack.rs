//! OpenCV's cascade files from a package: the manifest's `[cascades]` pack (the Haar cascades
//! of the pinned `opencv-python-headless` wheel), provisioned into
//! `<cache>/models/<name>/` the way the ONNX Runtime library is: the wheel is fetched (from
//! its PyPI address, a configured mirror, or `pip download`), its sha256 checked, only the
//! listed XML files extracted and each checked against its own sha256, and the wheel removed.
//! Once there, the files are used offline.

use std::fs;
use std::path::PathBuf;

use crate::download::{self, FetchError, PinnedWheel};
use crate::manifest::{self, CascadePack};
use crate::registry::{Registry, RegistryError};

/// Largest cascade file extracted (OpenCV's largest is 2.7 MB).
const MAX_CASCADE_BYTES: u64 = 32 << 20;

impl Registry {
    /// The manifest's cascade pack, if it has one.
    pub fn cascade_pack(&self) -> Option<&CascadePack> {
        self.cascades.as_ref()
    }

    /// Where the cascade pack lives in the cache (whether or not it is there yet).
    pub fn cascade_pack_dir(&self) -> Option<PathBuf> {
        let pack = self.cascades.as_ref()?;
        Some(manifest::model_dir(self.cache_dir(), &pack.name))
    }

    /// The cascade folder, when every file of the pack is there with its pinned checksum.
    pub fn cached_cascades(&self) -> Option<PathBuf> {
        let pack = self.cascades.as_ref()?;
        let dir = self.cascade_pack_dir()?;
        pack.files
            .iter()
            .all(|(file, sha256)| download::verify_sha256(&dir.join(file), sha256).is_ok())
            .then_some(dir)
    }

    /// Makes sure every file of the cascade pack is in the cache with its pinned checksum,
    /// fetching the package if needed, and returns the folder.
    pub fn fetch_cascades(&self) -> Result<PathBuf, RegistryError> {
        let pack = self
            .cascades
            .as_ref()
            .ok_or_else(|| RegistryError::NoSource("opencv-cascades".into()))?;
        if let Some(dir) = self.cached_cascades() {
            return Ok(dir);
        }
        let dir = manifest::model_dir(self.cache_dir(), &pack.name);
        let wheel = PinnedWheel {
            spec: pack.requirement.clone(),
            file: pack.file.clone(),
            url: pack.url.clone(),
            sha256: pack.sha256.clone(),
            pip_args: Vec::new(),
        }
        .mirrored(self.mirror.as_deref());
        let wheel = download::ensure_wheel(&wheel, &self.cache_dir().join("downloads"))?;
        let folder = pack.folder.trim_end_matches('/');
        let extracted = pack.files.iter().try_for_each(|(file, sha256)| {
            let dest = dir.join(file);
            download::extract_member(
                &wheel,
                &format!("{folder}/{file}"),
                &dest,
                MAX_CASCADE_BYTES,
            )?;
            download::verify_sha256(&dest, sha256).inspect_err(|_| {
                let _ = fs::remove_file(&dest);
            })
        });
        // The files are all we need; the wheel (62 MB) goes whether or not they were good.
        let _ = fs::remove_file(&wheel);
        extracted.map_err(RegistryError::from)?;
        tracing::info!(
            path = %dir.display(),
            files = pack.files.len(),
            "provisioned OpenCV cascades from {}",
            pack.requirement
        );
        Ok(dir)
    }

    /// Checks the cached cascade files against their checksums: `None` without a pack.
    pub fn verify_cascades(&self) -> Result<Option<crate::registry::Verification>, FetchError> {
        use crate::registry::Verification;
        let (Some(pack), Some(dir)) = (self.cascades.as_ref(), self.cascade_pack_dir()) else {
            return Ok(None);
        };
        for (file, sha256) in &pack.files {
            let path = dir.join(file);
            if !path.is_file() {
                return Ok(Some(Verification::Missing));
            }
            let actual = download::sha256_file(&path)?;
            if !actual.eq_ignore_ascii_case(sha256) {
                return Ok(Some(Verification::Mismatch {
                    expected: sha256.clone(),
                    actual,
                }));
            }
        }
        Ok(Some(Verification::Ok))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::manifest::Manifest;

    /// A manifest whose cascade pack is a wheel made here, served from a folder mirror; with
    /// `wrong_pin`, the manifest pins other bytes for the XML file than the wheel holds.
    fn fixture(dir: &std::path::Path, wrong_pin: bool) -> Registry {
        let xml = b"<?xml version=\"1.0\"?><opencv_storage></opencv_storage>";
        let wheels = dir.join("mirror");
        fs::create_dir_all(&wheels).expect("mkdir");
        let wheel_path = wheels.join("pack-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(fs::File::create(&wheel_path).expect("create"));
        zip.start_file(
            "pkg/data/haarcascade_test.xml",
            zip::write::SimpleFileOptions::default(),
        )
        .expect("start");
        zip.write_all(xml).expect("write");
        zip.finish().expect("finish");
        let wheel_sha = download::sha256_file(&wheel_path).expect("sha");
        let pin = download::sha256_bytes(if wrong_pin { b"<changed/>" } else { xml });
        let text = format!(
            "[cascades]\nname = \"test-cascades\"\nregistry = \"pypi\"\nrequirement = \"pack==1.0\"\n\
             file = \"pack-1.0-py3-none-any.whl\"\nurl = \"https://example.invalid/pack-1.0-py3-none-any.whl\"\n\
             sha256 = \"{wheel_sha}\"\nfolder = \"pkg/data\"\n[cascades.files]\n\"haarcascade_test.xml\" = \"{pin}\"\n"
        );
        Registry::with_manifest(
            Manifest::parse(&text).expect("manifest"),
            &dir.join("cache"),
        )
        .expect("registry")
        .with_mirror(Some(wheels.display().to_string()))
    }

    #[test]
    fn the_pack_is_extracted_from_the_mirror_checked_and_then_used_from_the_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = fixture(dir.path(), false);
        assert_eq!(registry.cached_cascades(), None);
        let folder = registry.fetch_cascades().expect("fetched");
        assert!(folder.join("haarcascade_test.xml").is_file());
        assert_eq!(registry.cached_cascades(), Some(folder.clone()));
        assert!(
            !dir.path()
                .join("cache/downloads/pack-1.0-py3-none-any.whl")
                .exists(),
            "the wheel is removed"
        );
        // Offline from now on: the mirror can go.
        fs::remove_dir_all(dir.path().join("mirror")).expect("rm");
        assert_eq!(registry.fetch_cascades().expect("cached"), folder);
        assert_eq!(
            registry.verify_cascades().expect("verify"),
            Some(crate::registry::Verification::Ok)
        );
    }

    #[test]
    fn a_file_that_differs_from_its_pin_is_refused_and_not_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = fixture(dir.path(), true);
        assert!(
            registry.fetch_cascades().is_err(),
            "the XML's checksum differs"
        );
        assert_eq!(registry.cached_cascades(), None);
        assert!(
            !dir.path()
                .join("cache/models/test-cascades/haarcascade_test.xml")
                .exists(),
            "the bad file is not kept"
        );
    }
}
