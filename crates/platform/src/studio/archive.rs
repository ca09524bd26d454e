//! Zip archives a client sends (annotation imports, zip media of images), read wholly into
//! memory under limits that hold whatever the archive's headers claim: a number of entries, and
//! a total of bytes actually inflated (each entry is read through a cap, so a zip bomb stops at
//! the cap). Directories are skipped; names are the archive's, `/`-separated.

use std::io::Read;

use crate::error::InputError;

/// How much an archive may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Most file entries.
    pub max_entries: usize,
    /// Most bytes of all entries together, inflated.
    pub max_total_bytes: u64,
}

/// One file of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEntry {
    /// Its path inside the archive.
    pub name: String,
    /// Its inflated contents.
    pub bytes: Vec<u8>,
}

/// Whether `bytes` start like a zip archive (a local file header, or an empty archive's end).
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// Every file entry of a zip archive, in archive order. 422 `bad_archive` when it is not a
/// readable zip, `archive_too_large` past `limits`.
pub fn read_entries(bytes: &[u8], limits: ArchiveLimits) -> Result<Vec<ArchiveEntry>, InputError> {
    let bad = |err: zip::result::ZipError| {
        InputError::unprocessable("bad_archive", format!("not a readable zip archive: {err}"))
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(bad)?;
    let too_large = |what: String| InputError::unprocessable("archive_too_large", what);
    let mut entries = Vec::new();
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let file = archive.by_index(index).map_err(bad)?;
        if file.is_dir() {
            continue;
        }
        if entries.len() >= limits.max_entries {
            return Err(too_large(format!(
                "the archive has more than {} files",
                limits.max_entries
            )));
        }
        let name = file.name().map_err(bad)?.into_owned();
        let left = limits.max_total_bytes - total;
        let mut contents = Vec::new();
        file.take(left + 1)
            .read_to_end(&mut contents)
            .map_err(|err| {
                InputError::unprocessable("bad_archive", format!("{name}: cannot inflate: {err}"))
            })?;
        total += contents.len() as u64;
        if total > limits.max_total_bytes {
            return Err(too_large(format!(
                "the archive inflates past {} bytes",
                limits.max_total_bytes
            )));
        }
        entries.push(ArchiveEntry {
            name,
            bytes: contents,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in files {
            zip.start_file(*name, options).expect("start");
            zip.write_all(bytes).expect("write");
        }
        zip.finish().expect("finish").into_inner()
    }

    const LIMITS: ArchiveLimits = ArchiveLimits {
        max_entries: 3,
        max_total_bytes: 1000,
    };

    #[test]
    fn entries_come_back_in_order_within_the_limits() {
        let bytes = zip_of(&[("b.txt", b"bee".to_vec()), ("a/c.txt", b"sea".to_vec())]);
        assert!(is_zip(&bytes));
        let entries = read_entries(&bytes, LIMITS).expect("read");
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["b.txt", "a/c.txt"]);
        assert_eq!(entries[1].bytes, b"sea");
    }

    #[test]
    fn a_bomb_or_too_many_entries_or_garbage_is_refused_with_its_code() {
        let bomb = zip_of(&[("zeros", vec![0u8; 1_000_000])]);
        assert!(bomb.len() < 10_000, "deflate squeezes the zeros");
        assert_eq!(
            read_entries(&bomb, LIMITS).expect_err("bomb").code,
            "archive_too_large"
        );
        let many: Vec<(&str, Vec<u8>)> = ["1", "2", "3", "4"]
            .iter()
            .map(|n| (*n, b"x".to_vec()))
            .collect();
        assert_eq!(
            read_entries(&zip_of(&many), LIMITS).expect_err("many").code,
            "archive_too_large"
        );
        assert!(!is_zip(b"not a zip"));
        assert_eq!(
            read_entries(b"PK\x03\x04garbage", LIMITS)
                .expect_err("garbage")
                .code,
            "bad_archive"
        );
    }
}
