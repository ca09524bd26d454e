//! The decoding half of a `studio_import`, run on a blocking thread: the upload read as its
//! [`Decoding`] plan says (an image, a zip's images in natural name order, an H.264 Baseline MP4
//! in-process, anything else through ffmpeg), each picture sent over a bounded channel to the
//! encoding stage ([`super::encode`]) on its way to the storing half. An in-process decode that
//! fails on a stream OpenH264 cannot read starts over through ffmpeg when there is one (the
//! storing half first forgets what it stored).

use std::{
    path::{Path, PathBuf},
    sync::mpsc::SyncSender,
};

use atelier_detector::video::{self, VideoError, VideoFrame, ffmpeg::FfmpegDecoder};
use atelier_imaging::{DecodeLimits, decode_image};
use bytes::Bytes;
use image::RgbImage;

use crate::{
    jobs::{JobFailure, Progress},
    studio::{
        archive::ArchiveLimits,
        decoding::{Decoding, StudioConfig},
        image_zip,
    },
};

/// One decoded frame on its way to the store.
pub(super) struct Decoded {
    /// Frame number from 0.
    pub number: i64,
    /// Presentation time, milliseconds.
    pub timestamp_ms: i64,
    /// Its name in the annotation document: the zip entry's, else `None` (the media's name for
    /// an image, `frame_NNNNNN` for a video).
    pub name: Option<String>,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// The stored JPEG (empty until the encoding stage makes it).
    pub jpeg: Vec<u8>,
    /// The picture: every frame's until it is encoded, then frame 0's alone (the thumbnail).
    pub image: Option<RgbImage>,
}

/// What the decoding half sends.
pub(super) enum Message {
    /// A frame.
    Frame(Decoded),
    /// Forget every frame sent so far: the decode starts over with another decoder.
    Restart,
}

/// What the decoding half needs.
pub(super) struct Source {
    /// The upload.
    pub bytes: Bytes,
    /// How to read it.
    pub plan: Decoding,
    /// Image and frame size limits (the uploads').
    pub limits: DecodeLimits,
    /// Limits on a zip's entries.
    pub archive: ArchiveLimits,
    /// ffmpeg and the frame cap.
    pub studio: StudioConfig,
    /// Where ffmpeg's input file is written.
    pub tmp_dir: PathBuf,
}

/// What a decode found.
pub(super) struct Found {
    /// Frames per second (0 for images).
    pub fps: f64,
    /// Duration, seconds (0 for images).
    pub duration: f64,
    /// `image`, `zip`, `in-process` or `ffmpeg`.
    pub decoder: &'static str,
}

fn video_failure(err: VideoError) -> JobFailure {
    let code = match err {
        VideoError::NotAVideo(_) => "not_a_video",
        VideoError::Truncated(_) => "truncated_video",
        VideoError::UnsupportedCodec(_) => "unsupported_codec",
        VideoError::Canceled => "canceled",
        VideoError::TimedOut(_) => "decode_timeout",
        VideoError::TooLarge(_) => "video_too_large",
        _ => "bad_video",
    };
    JobFailure::abort(code, err.to_string())
}

/// The channel closed: the storing half stopped (it failed or the job was canceled).
pub(super) fn closed() -> JobFailure {
    JobFailure::abort("canceled", "the job was canceled")
}

/// Decodes `source`, sending every frame to `sender`.
pub(super) fn run(
    source: Source,
    progress: &Progress,
    sender: &SyncSender<Message>,
) -> Result<Found, JobFailure> {
    match &source.plan {
        Decoding::Image => one_image(&source, sender),
        Decoding::ImageZip => zip_images(&source, progress, sender),
        Decoding::InProcess => in_process(&source, progress, sender),
        Decoding::Ffmpeg(binary) => through_ffmpeg(&source, binary, progress, sender),
    }
}

fn frame(number: usize, name: Option<String>, image: RgbImage, timestamp: f64) -> Decoded {
    let (width, height) = image.dimensions();
    Decoded {
        number: number as i64,
        timestamp_ms: (timestamp * 1000.0).round() as i64,
        name,
        width,
        height,
        jpeg: Vec::new(),
        image: Some(image),
    }
}

/// Sends a decoded frame on to the encoding stage.
fn send(sender: &SyncSender<Message>, decoded: Decoded) -> Result<(), JobFailure> {
    sender.send(Message::Frame(decoded)).map_err(|_| closed())
}

fn one_image(source: &Source, sender: &SyncSender<Message>) -> Result<Found, JobFailure> {
    let image = decode_image(&source.bytes, &source.limits)
        .map_err(|err| JobFailure::abort("bad_image", err.to_string()))?
        .into_rgb8();
    send(sender, frame(0, None, image, 0.0))?;
    Ok(Found {
        fps: 0.0,
        duration: 0.0,
        decoder: "image",
    })
}

fn zip_images(
    source: &Source,
    progress: &Progress,
    sender: &SyncSender<Message>,
) -> Result<Found, JobFailure> {
    let entries = image_zip::image_entries(&source.bytes, source.archive)
        .map_err(|err| JobFailure::abort(err.code, err.message))?;
    let total = entries.len();
    for (number, entry) in entries.into_iter().enumerate() {
        if progress.is_canceled() {
            return Err(closed());
        }
        let image = decode_image(&entry.bytes, &source.limits)
            .map_err(|err| JobFailure::abort("bad_image", format!("{}: {err}", entry.name)))?
            .into_rgb8();
        send(sender, frame(number, Some(entry.name), image, 0.0))?;
        progress.report((5 + number * 85 / total).min(90) as u8, "decode");
    }
    Ok(Found {
        fps: 0.0,
        duration: 0.0,
        decoder: "zip",
    })
}

/// Refuses frames past the limits before decoding.
fn check_size(source: &Source, info: &video::VideoInfo) -> Result<(), JobFailure> {
    let limits = &source.limits;
    let too_large = |what: String| JobFailure::abort("video_too_large", what);
    if u64::from(info.width) * u64::from(info.height) > limits.max_pixels
        || info.width.max(info.height) > limits.max_side
    {
        return Err(too_large(format!(
            "{}x{} frames exceed the limits ({} pixels, {} per side)",
            info.width, info.height, limits.max_pixels, limits.max_side
        )));
    }
    if info.frame_count > source.studio.max_video_frames {
        return Err(too_large(format!(
            "{} frames, more than the {} allowed",
            info.frame_count, source.studio.max_video_frames
        )));
    }
    Ok(())
}

fn in_process(
    source: &Source,
    progress: &Progress,
    sender: &SyncSender<Message>,
) -> Result<Found, JobFailure> {
    let info = video::probe(&source.bytes).map_err(video_failure)?;
    check_size(source, &info)?;
    let total = info.frame_count.max(1);
    let mut report = |_: &str, _: f64| !progress.is_canceled();
    let decoded = video::for_each_frame(&source.bytes, &mut report, |f: VideoFrame| {
        progress.report((5 + f.number * 85 / total).min(90) as u8, "decode");
        // The storing half gone is a cancel, never a reason to try another decoder.
        send(sender, frame(f.number, None, f.image, f.timestamp)).map_err(|_| VideoError::Canceled)
    });
    match decoded {
        Ok(_) => Ok(Found {
            fps: if info.duration > 0.0 {
                info.frame_count as f64 / info.duration
            } else {
                0.0
            },
            duration: info.duration,
            decoder: "in-process",
        }),
        Err(err @ VideoError::Decode { .. }) => {
            let Some(binary) = source.studio.ffmpeg_binary() else {
                return Err(video_failure(err));
            };
            tracing::info!(error = %err, "OpenH264 cannot decode the stream; ffmpeg takes over");
            sender.send(Message::Restart).map_err(|_| closed())?;
            through_ffmpeg(source, &binary, progress, sender)
        }
        Err(err) => Err(video_failure(err)),
    }
}

fn through_ffmpeg(
    source: &Source,
    binary: &Path,
    progress: &Progress,
    sender: &SyncSender<Message>,
) -> Result<Found, JobFailure> {
    std::fs::create_dir_all(&source.tmp_dir)
        .map_err(|err| JobFailure::retry("infrastructure", err.to_string()))?;
    let mut input = tempfile::NamedTempFile::new_in(&source.tmp_dir)
        .map_err(|err| JobFailure::retry("infrastructure", err.to_string()))?;
    std::io::Write::write_all(&mut input, &source.bytes)
        .map_err(|err| JobFailure::retry("infrastructure", err.to_string()))?;
    let decoder = FfmpegDecoder {
        binary: binary.to_owned(),
        timeout: source.studio.ffmpeg_timeout,
        max_pixels: source.limits.max_pixels,
        max_side: source.limits.max_side,
        max_frames: source.studio.max_video_frames,
    };
    let mut report = |_: &str, fraction: f64| {
        progress.report((5.0 + fraction * 85.0).min(90.0) as u8, "decode");
        !progress.is_canceled()
    };
    let summary = decoder
        .for_each_frame(input.path(), &mut report, |f: VideoFrame| {
            send(sender, frame(f.number, None, f.image, f.timestamp))
                .map_err(|_| VideoError::Canceled)
        })
        .map_err(video_failure)?;
    Ok(Found {
        fps: if summary.duration > 0.0 {
            summary.frames as f64 / summary.duration
        } else {
            0.0
        },
        duration: summary.duration,
        decoder: "ffmpeg",
    })
}
