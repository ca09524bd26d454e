//! Content sniffing: the real type of a file, from its magic bytes.

/// A file type atelier accepts, as told by the file's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG (`89 50 4E 47 0D 0A 1A 0A`).
    Png,
    /// WebP (`RIFF....WEBP`).
    Webp,
    /// GIF 87a or 89a.
    Gif,
    /// ISO base media file (MP4/MOV family, `....ftyp`).
    Mp4,
    /// glTF 2.0 binary (`glTF`, version 2): a 3D scene atelier generates (3D photos). Never
    /// accepted from clients: [`sniff`] does not recognise it, [`sniff_generated`] does.
    Glb,
    /// Zip archive (`PK\x03\x04`, or an empty archive's `PK\x05\x06`): the detector studio's
    /// media of images.
    Zip,
    /// WebM (an EBML file, `1A 45 DF A3`, whose DocType is `webm`).
    Webm,
    /// Matroska (an EBML file of another DocType, or one whose DocType is past the sniffed head).
    Mkv,
    /// AVI (`RIFF....AVI `).
    Avi,
}

impl MediaKind {
    /// The IANA media type to serve the file with.
    pub fn mime(self) -> &'static str {
        match self {
            MediaKind::Jpeg => "image/jpeg",
            MediaKind::Png => "image/png",
            MediaKind::Webp => "image/webp",
            MediaKind::Gif => "image/gif",
            MediaKind::Mp4 => "video/mp4",
            MediaKind::Glb => "model/gltf-binary",
            MediaKind::Zip => "application/zip",
            MediaKind::Webm => "video/webm",
            MediaKind::Mkv => "video/x-matroska",
            MediaKind::Avi => "video/x-msvideo",
        }
    }

    /// A short lowercase name (`jpeg`, `png`, `webp`, `gif`, `mp4`, `glb`, `zip`, `webm`, `mkv`,
    /// `avi`), stable for storage and APIs.
    pub fn name(self) -> &'static str {
        match self {
            MediaKind::Jpeg => "jpeg",
            MediaKind::Png => "png",
            MediaKind::Webp => "webp",
            MediaKind::Gif => "gif",
            MediaKind::Mp4 => "mp4",
            MediaKind::Glb => "glb",
            MediaKind::Zip => "zip",
            MediaKind::Webm => "webm",
            MediaKind::Mkv => "mkv",
            MediaKind::Avi => "avi",
        }
    }

    /// Parses the short name written by [`MediaKind::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Jpeg,
            Self::Png,
            Self::Webp,
            Self::Gif,
            Self::Mp4,
            Self::Glb,
            Self::Zip,
            Self::Webm,
            Self::Mkv,
            Self::Avi,
        ]
        .into_iter()
        .find(|kind| kind.name() == name)
    }

    /// Whether the kind is a still or animated image (as opposed to video, an archive or a 3D
    /// scene).
    pub fn is_image(self) -> bool {
        matches!(
            self,
            MediaKind::Jpeg | MediaKind::Png | MediaKind::Webp | MediaKind::Gif
        )
    }

    /// Whether the kind is a video container (MP4 is decoded in-process; WebM, Matroska and AVI
    /// only through ffmpeg).
    pub fn is_video(self) -> bool {
        matches!(
            self,
            MediaKind::Mp4 | MediaKind::Webm | MediaKind::Mkv | MediaKind::Avi
        )
    }
}

/// The number of leading bytes [`sniff`] needs to decide (an EBML header's DocType included).
pub const SNIFF_LEN: usize = 64;

/// An EBML (Matroska family) file's kind: WebM when its DocType says `webm`, else Matroska.
fn ebml_kind(head: &[u8]) -> MediaKind {
    // The DocType element (ID 42 82) holds the string; it sits in the first few dozen bytes.
    let is_webm = head
        .windows(6)
        .any(|w| w[0] == 0x42 && w[1] == 0x82 && &w[3..6] == b"web");
    if is_webm {
        MediaKind::Webm
    } else {
        MediaKind::Mkv
    }
}

/// Tells a file's type from its first bytes; `None` when it is none of the accepted kinds.
pub fn sniff(head: &[u8]) -> Option<MediaKind> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(MediaKind::Jpeg);
    }
    if head.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        return Some(MediaKind::Png);
    }
    if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some(MediaKind::Webp);
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Some(MediaKind::Gif);
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return Some(MediaKind::Mp4);
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Some(MediaKind::Zip);
    }
    if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some(ebml_kind(head));
    }
    if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"AVI " {
        return Some(MediaKind::Avi);
    }
    None
}

/// Like [`sniff`], also recognising the kinds only atelier itself produces (glTF binary);
/// for storing generated outputs, never for client uploads.
pub fn sniff_generated(head: &[u8]) -> Option<MediaKind> {
    if head.len() >= 8 && &head[0..4] == b"glTF" && head[4..8] == 2u32.to_le_bytes() {
        return Some(MediaKind::Glb);
    }
    sniff(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_magic_number_is_recognised() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(MediaKind::Jpeg));
        assert_eq!(
            sniff(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]),
            Some(MediaKind::Png)
        );
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some(MediaKind::Webp));
        assert_eq!(sniff(b"GIF89a\x01\0"), Some(MediaKind::Gif));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42"), Some(MediaKind::Mp4));
        assert_eq!(sniff(b"PK\x03\x04\x14\0"), Some(MediaKind::Zip));
        assert_eq!(sniff(b"RIFF\x10\0\0\0AVI LIST"), Some(MediaKind::Avi));
        let webm = b"\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\x82\x84webm\x42\x87";
        assert_eq!(sniff(webm), Some(MediaKind::Webm));
        let mkv = b"\x1A\x45\xDF\xA3\xA3\x42\x86\x81\x01\x42\x82\x88matroska";
        assert_eq!(sniff(mkv), Some(MediaKind::Mkv));
        assert!(MediaKind::Webm.is_video() && !MediaKind::Webm.is_image());
        assert!(!MediaKind::Zip.is_image() && !MediaKind::Zip.is_video());
    }

    #[test]
    fn a_glb_is_recognised_only_as_a_generated_kind() {
        let head = b"glTF\x02\0\0\0\x10\0\0\0";
        assert_eq!(sniff(head), None);
        assert_eq!(sniff_generated(head), Some(MediaKind::Glb));
        assert_eq!(sniff_generated(b"glTF\x01\0\0\0"), None);
        assert_eq!(MediaKind::from_name("glb"), Some(MediaKind::Glb));
        assert!(!MediaKind::Glb.is_image());
        assert_eq!(MediaKind::Glb.mime(), "model/gltf-binary");
    }

    #[test]
    fn text_and_short_input_are_not_recognised() {
        assert_eq!(sniff(b"hello, I am a png"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"RIFF"), None);
    }

    #[test]
    fn names_round_trip() {
        for kind in [
            MediaKind::Jpeg,
            MediaKind::Png,
            MediaKind::Webp,
            MediaKind::Gif,
            MediaKind::Mp4,
            MediaKind::Zip,
            MediaKind::Webm,
            MediaKind::Mkv,
            MediaKind::Avi,
        ] {
            assert_eq!(MediaKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(MediaKind::from_name("bmp"), None);
    }
}
