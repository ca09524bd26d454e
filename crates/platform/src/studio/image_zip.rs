//! A zip of images as a studio media: which entries are its frames, and in what order.
//!
//! The archive is read under [`super::archive`]'s limits. Its frames are the entries that are
//! images by their content (JPEG, PNG, WebP, GIF) or by their name (an image extension: such an
//! entry that does not decode is a corrupt image, named in the error, not something to skip).
//! Everything else is skipped: macOS resource forks (`__MACOSX/`, `._*`), hidden files, text,
//! sidecar files. Frames come in natural name order, as a person numbers files: `img2` before
//! `img10`. Each image is then decoded under the upload decode limits by the import job.

use std::cmp::Ordering;

use atelier_imaging::sniff;

use super::archive::{self, ArchiveEntry, ArchiveLimits};
use crate::error::InputError;

/// File extensions of the image kinds uploads accept.
const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "gif"];

/// Whether an entry is part of the archive's furniture rather than its content.
fn is_furniture(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    name.starts_with("__MACOSX/") || file.starts_with('.') || file.is_empty()
}

fn has_image_extension(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(_, ext)| {
        IMAGE_EXTENSIONS
            .iter()
            .any(|known| ext.eq_ignore_ascii_case(known))
    })
}

/// The image entries of a zip, in natural name order. 422 `bad_archive` / `archive_too_large`
/// from [`archive::read_entries`], 422 `no_images` when none is an image.
pub fn image_entries(bytes: &[u8], limits: ArchiveLimits) -> Result<Vec<ArchiveEntry>, InputError> {
    let mut entries: Vec<ArchiveEntry> = archive::read_entries(bytes, limits)?
        .into_iter()
        .filter(|entry| !is_furniture(&entry.name))
        .filter(|entry| {
            has_image_extension(&entry.name)
                || sniff::sniff(&entry.bytes).is_some_and(|kind| kind.is_image())
        })
        .collect();
    if entries.is_empty() {
        return Err(InputError::unprocessable(
            "no_images",
            "the zip archive holds no images (JPEG, PNG, WebP or GIF)",
        ));
    }
    entries.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    Ok(entries)
}

/// Compares names as a person orders numbered files: runs of digits by their value (`img2` <
/// `img10`), the rest character by character, ignoring ASCII case; ties fall back to the exact
/// bytes so the order is total.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    while let (Some(&cx), Some(&cy)) = (x.first(), y.first()) {
        if cx.is_ascii_digit() && cy.is_ascii_digit() {
            let (dx, rx) = split_digits(x);
            let (dy, ry) = split_digits(y);
            let (tx, ty) = (trim_zeros(dx), trim_zeros(dy));
            let by_value = tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty));
            if by_value != Ordering::Equal {
                return by_value;
            }
            (x, y) = (rx, ry);
        } else {
            let by_char = cx.to_ascii_lowercase().cmp(&cy.to_ascii_lowercase());
            if by_char != Ordering::Equal {
                return by_char;
            }
            (x, y) = (&x[1..], &y[1..]);
        }
    }
    x.len().cmp(&y.len()).then_with(|| a.cmp(b))
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    s.split_at(n)
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[zeros..]
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const LIMITS: ArchiveLimits = ArchiveLimits {
        max_entries: 100,
        max_total_bytes: 1 << 20,
    };

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, bytes) in files {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("start");
            zip.write_all(bytes).expect("write");
        }
        zip.finish().expect("finish").into_inner()
    }

    #[test]
    fn numbered_names_sort_by_their_numbers() {
        let mut names = vec![
            "img10.png",
            "img2.png",
            "IMG1.png",
            "img02.png",
            "a/img3.png",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            [
                "a/img3.png",
                "IMG1.png",
                "img02.png",
                "img2.png",
                "img10.png"
            ]
        );
        assert_eq!(natural_cmp("frame9", "frame10"), Ordering::Less);
        assert_eq!(natural_cmp("x", "x"), Ordering::Equal);
    }

    #[test]
    fn furniture_and_text_are_skipped_and_images_come_in_natural_order() {
        let png = b"\x89PNG\r\n\x1a\n rest";
        let bytes = zip_of(&[
            ("shots/img10.png", png),
            ("__MACOSX/shots/._img10.png", b"resource fork"),
            ("shots/readme.txt", b"hello"),
            ("shots/.DS_Store", b"junk"),
            ("shots/img9.png", png),
            ("shots/noext", png),
            ("shots/broken.jpg", b"not a jpeg"),
        ]);
        let names: Vec<String> = image_entries(&bytes, LIMITS)
            .expect("images")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(
            names,
            [
                "shots/broken.jpg",
                "shots/img9.png",
                "shots/img10.png",
                "shots/noext"
            ],
            "a .jpg is kept to fail as a corrupt image; content without a name counts too"
        );
    }

    #[test]
    fn a_zip_without_images_is_refused() {
        let bytes = zip_of(&[("notes.txt", b"hello"), ("__MACOSX/._a.png", b"fork")]);
        let err = image_entries(&bytes, LIMITS).expect_err("no images");
        assert_eq!(err.code, "no_images");
    }
}
