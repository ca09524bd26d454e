//! How a studio media's upload becomes frames, decided when the media is added (so a file this
//! server cannot read is refused at once, 415 naming what it accepts) and again when the import
//! job runs: an image is one frame; a zip of images is one frame per image; an H.264 MP4 in the
//! Baseline profile is decoded in-process (atelier's demuxer + OpenH264); every other video
//! (WebM, Matroska, AVI, MOV or MP4 with another codec, H.264 Main/High) goes through `ffmpeg`
//! when one is configured and found.

use std::{path::PathBuf, time::Duration};

use atelier_detector::video;
use atelier_imaging::MediaKind;

use crate::error::InputError;

/// The detector studio's media settings (`[studio]` in the settings file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudioConfig {
    /// The `ffmpeg` executable: a path, or a bare name looked up on `PATH`; empty: never use
    /// ffmpeg. Default `ffmpeg`.
    pub ffmpeg: String,
    /// Longest one ffmpeg decode may run before it is killed. Default 10 minutes.
    pub ffmpeg_timeout: Duration,
    /// Most frames one video media may have (either decoder). Default 36 000 (20 minutes at
    /// 30 fps).
    pub max_video_frames: usize,
}

impl Default for StudioConfig {
    fn default() -> Self {
        Self {
            ffmpeg: "ffmpeg".to_owned(),
            ffmpeg_timeout: Duration::from_secs(600),
            max_video_frames: 36_000,
        }
    }
}

impl StudioConfig {
    /// The ffmpeg executable to run, if one is configured and found.
    pub fn ffmpeg_binary(&self) -> Option<PathBuf> {
        let name = self.ffmpeg.trim();
        if name.is_empty() {
            return None;
        }
        if name.contains(std::path::MAIN_SEPARATOR) {
            let path = PathBuf::from(name);
            return is_executable(&path).then_some(path);
        }
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join(name))
            .find(|path| is_executable(path))
    }
}

fn is_executable(path: &std::path::Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// How an upload is read into frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoding {
    /// One image, one frame.
    Image,
    /// A zip archive: its images in natural name order, one frame each.
    ImageZip,
    /// An H.264 Baseline MP4, decoded in-process.
    InProcess,
    /// Any other video, through this ffmpeg.
    Ffmpeg(PathBuf),
}

impl Decoding {
    /// The media kind it makes: `video` or `images`.
    pub fn media_kind(&self) -> &'static str {
        match self {
            Decoding::Image | Decoding::ImageZip => "images",
            Decoding::InProcess | Decoding::Ffmpeg(_) => "video",
        }
    }
}

/// What a studio media may be, for refusals.
pub const ACCEPTED: &str = "a studio media is an image (JPEG, PNG, WebP, GIF), a zip of images, \
     or an H.264 MP4 in the Baseline profile; other videos (WebM, Matroska, AVI, MOV, other \
     codecs, H.264 Main or High) are read through ffmpeg, which this server does not have";

/// How an upload of `kind` is read; `mp4` is the upload's bytes, needed for MP4 alone (its codec
/// and profile decide). 415 `unsupported_media` for what is not a media at all, 415
/// `unsupported_video` for a video only ffmpeg reads when there is none.
pub fn plan(
    config: &StudioConfig,
    kind: MediaKind,
    mp4: Option<&[u8]>,
) -> Result<Decoding, InputError> {
    if kind.is_image() {
        return Ok(Decoding::Image);
    }
    if kind == MediaKind::Zip {
        return Ok(Decoding::ImageZip);
    }
    if !kind.is_video() {
        return Err(InputError::unsupported("unsupported_media", ACCEPTED));
    }
    let why = match (kind, mp4) {
        (MediaKind::Mp4, Some(bytes)) => match video::probe(bytes) {
            Ok(info) if info.decodes_in_process() => return Ok(Decoding::InProcess),
            Ok(info) => match info.h264_profile {
                Some(profile) if info.codec.starts_with("avc") => {
                    format!("H.264 profile {}", profile_name(profile))
                }
                _ => format!("codec {:?}", info.codec),
            },
            Err(err) => err.to_string(),
        },
        (MediaKind::Mp4, None) => "an MP4 not yet read".to_owned(),
        (other, _) => format!("a {} file", other.name().to_uppercase()),
    };
    match config.ffmpeg_binary() {
        Some(binary) => Ok(Decoding::Ffmpeg(binary)),
        None => Err(InputError::unsupported(
            "unsupported_video",
            format!("{why} needs ffmpeg: {ACCEPTED}"),
        )),
    }
}

/// The common name of an H.264 `profile_idc`.
fn profile_name(profile: u8) -> String {
    match profile {
        66 => "Baseline".to_owned(),
        77 => "Main".to_owned(),
        88 => "Extended".to_owned(),
        100 => "High".to_owned(),
        110 => "High 10".to_owned(),
        122 => "High 4:2:2".to_owned(),
        244 => "High 4:4:4".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn without_ffmpeg() -> StudioConfig {
        StudioConfig {
            ffmpeg: "/nonexistent/ffmpeg".to_owned(),
            ..StudioConfig::default()
        }
    }

    #[test]
    fn images_and_zips_need_no_decoder_and_other_files_are_refused() {
        let config = without_ffmpeg();
        assert_eq!(
            plan(&config, MediaKind::Png, None).ok(),
            Some(Decoding::Image)
        );
        assert_eq!(
            plan(&config, MediaKind::Zip, None).ok(),
            Some(Decoding::ImageZip)
        );
        let err = plan(&config, MediaKind::Glb, None).expect_err("glb");
        assert_eq!(err.code, "unsupported_media");
    }

    #[test]
    fn a_webm_without_ffmpeg_is_refused_naming_what_is_accepted() {
        let err = plan(&without_ffmpeg(), MediaKind::Webm, None).expect_err("webm");
        assert_eq!(err.code, "unsupported_video");
        assert!(
            err.message.contains("WEBM file needs ffmpeg"),
            "{}",
            err.message
        );
        assert!(err.message.contains("Baseline"), "{}", err.message);
    }

    #[test]
    fn an_empty_setting_or_a_missing_path_finds_no_ffmpeg() {
        assert_eq!(without_ffmpeg().ffmpeg_binary(), None);
        let off = StudioConfig {
            ffmpeg: String::new(),
            ..StudioConfig::default()
        };
        assert_eq!(off.ffmpeg_binary(), None);
        let dir = tempfile::tempdir().expect("tmp");
        let not_executable = dir.path().join("ffmpeg");
        std::fs::write(&not_executable, b"#!/bin/sh\n").expect("write");
        let config = StudioConfig {
            ffmpeg: not_executable.display().to_string(),
            ..StudioConfig::default()
        };
        assert_eq!(config.ffmpeg_binary(), None, "not executable");
    }
}
