//! Video decoding for annotation and training: an H.264 MP4 in, every frame out with its number
//! and timestamp, through atelier's MP4 demuxer (`atelier_imaging::animation::demux_mp4`) and the
//! OpenH264 decoder; other containers, codecs and H.264 profiles through an `ffmpeg` child
//! process ([`ffmpeg`]) when one is installed.
//!
//! Frames are numbered in decoding order, which is presentation order for the streams this
//! reads (OpenH264 decodes the Constrained Baseline profile, which has no B-frames); a frame's
//! timestamp is the sum of the durations of the samples before it. Bad input has its own error:
//! not an MP4 at all, a file cut short, or a codec other than H.264.

use atelier_imaging::animation::{AnimationError, demux_mp4};
use image::RgbImage;
use openh264::formats::YUVSource;

use crate::Progress;

pub mod ffmpeg;

/// The H.264 `profile_idc` of the Baseline profile (Constrained Baseline is Baseline with a
/// constraint flag): the one OpenH264 decodes whole. Main, High and the others use CABAC,
/// B-frames (pictures out of decoding order) or interlacing, which it does not.
pub const H264_BASELINE: u8 = 66;

/// Errors from [`decode_mp4`].
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// The bytes are not an MP4 file.
    #[error("not a video: {0}")]
    NotAVideo(String),
    /// The file ends before its boxes or samples do.
    #[error("truncated MP4: {0}")]
    Truncated(String),
    /// The video track holds another codec.
    #[error("unsupported codec {0:?}: only H.264 (avc1/avc3) MP4 is decoded in-process")]
    UnsupportedCodec(String),
    /// The container is well framed but inconsistent.
    #[error("malformed MP4: {0}")]
    Malformed(String),
    /// The H.264 stream does not decode.
    #[error("H.264 decoding failed at frame {frame}: {reason}")]
    Decode {
        /// The frame.
        frame: usize,
        /// The decoder's message.
        reason: String,
    },
    /// The progress callback asked to stop.
    #[error("canceled")]
    Canceled,
    /// The external decoder (ffmpeg) could not read the file or failed.
    #[error("ffmpeg could not decode the video: {0}")]
    External(String),
    /// Decoding took longer than its time limit.
    #[error("decoding took longer than {0:?}")]
    TimedOut(std::time::Duration),
    /// Frames larger, or more of them, than the limits allow.
    #[error("the video is too large: {0}")]
    TooLarge(String),
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoFrame {
    /// Frame number from 0.
    pub number: usize,
    /// Presentation time in seconds.
    pub timestamp: f64,
    /// The picture.
    pub image: RgbImage,
}

/// What a video holds, read without decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Number of frames.
    pub frame_count: usize,
    /// Duration in seconds.
    pub duration: f64,
    /// Codec four-character code.
    pub codec: String,
    /// The H.264 `profile_idc` of the first sequence parameter set (66 Baseline, 77 Main,
    /// 100 High…), when there is one.
    pub h264_profile: Option<u8>,
}

impl VideoInfo {
    /// Whether the in-process decoder reads this stream whole: H.264 in the Baseline profile.
    pub fn decodes_in_process(&self) -> bool {
        matches!(self.codec.as_str(), "avc1" | "avc3") && self.h264_profile == Some(H264_BASELINE)
    }
}

/// Checks the top-level box structure: an `ftyp` first, and every box inside the file.
fn check_container(bytes: &[u8]) -> Result<(), VideoError> {
    if bytes.len() < 12 || &bytes[4..8] != b"ftyp" {
        return Err(VideoError::NotAVideo(
            "no MP4 'ftyp' box at the start".into(),
        ));
    }
    let mut at = 0usize;
    let mut seen_moov = false;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < 8 {
            return Err(VideoError::Truncated(format!(
                "{} stray bytes at the end",
                rest.len()
            )));
        }
        let size = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as u64;
        let size = match size {
            0 => rest.len() as u64,
            1 => match rest.get(8..16) {
                Some(large) => u64::from_be_bytes(large.try_into().unwrap_or([0; 8])),
                None => return Err(VideoError::Truncated("box header cut short".into())),
            },
            n => n,
        };
        if size < 8 {
            return Err(VideoError::Malformed(format!("box of {size} bytes")));
        }
        if size > rest.len() as u64 {
            return Err(VideoError::Truncated(format!(
                "box '{}' claims {size} bytes, {} remain",
                String::from_utf8_lossy(&rest[4..8]),
                rest.len()
            )));
        }
        seen_moov |= &rest[4..8] == b"moov";
        at += size as usize;
    }
    if !seen_moov {
        return Err(VideoError::Truncated("no 'moov' box (the index)".into()));
    }
    Ok(())
}

fn demux(bytes: &[u8]) -> Result<atelier_imaging::animation::Mp4Track, VideoError> {
    check_container(bytes)?;
    let track = demux_mp4(bytes).map_err(|e| match e {
        AnimationError::Malformed { reason, .. } if reason.contains("outside the file") => {
            VideoError::Truncated(reason)
        }
        AnimationError::Malformed { reason, .. } => VideoError::Malformed(reason),
        other => VideoError::Malformed(other.to_string()),
    })?;
    if track.info.codec != "avc1" && track.info.codec != "avc3" {
        return Err(VideoError::UnsupportedCodec(track.info.codec));
    }
    Ok(track)
}

/// Reads a video's size, frame count and duration without decoding.
pub fn probe(bytes: &[u8]) -> Result<VideoInfo, VideoError> {
    let track = demux(bytes)?;
    let info = &track.info;
    Ok(VideoInfo {
        width: info.width,
        height: info.height,
        frame_count: track.samples.len(),
        duration: info.duration_ticks as f64 / f64::from(info.timescale.max(1)),
        codec: info.codec.clone(),
        h264_profile: track.sps.first().and_then(|sps| sps.get(1)).copied(),
    })
}

/// Decodes every frame, handing each to `sink` in order (so a caller can store frames without
/// holding the whole video in memory). Reports progress as stage "decode".
pub fn for_each_frame(
    bytes: &[u8],
    progress: &mut dyn Progress,
    mut sink: impl FnMut(VideoFrame) -> Result<(), VideoError>,
) -> Result<usize, VideoError> {
    let track = demux(bytes)?;
    let timescale = f64::from(track.info.timescale.max(1));
    let mut decoder = openh264::decoder::Decoder::new().map_err(|e| VideoError::Decode {
        frame: 0,
        reason: e.to_string(),
    })?;
    let total = track.samples.len();
    let mut ticks = 0u64;
    let mut timestamps = Vec::with_capacity(total);
    let mut produced = 0usize;
    let mut emit = |yuv: &openh264::decoder::DecodedYUV<'_>,
                    produced: &mut usize,
                    timestamps: &[u64]|
     -> Result<(), VideoError> {
        let (w, h) = yuv.dimensions();
        let mut rgb = vec![0u8; w * h * 3];
        yuv.write_rgb8(&mut rgb);
        let image =
            RgbImage::from_raw(w as u32, h as u32, rgb).ok_or_else(|| VideoError::Decode {
                frame: *produced,
                reason: "bad picture size".into(),
            })?;
        let number = *produced;
        *produced += 1;
        sink(VideoFrame {
            number,
            timestamp: timestamps.get(number).copied().unwrap_or(0) as f64 / timescale,
            image,
        })
    };
    for i in 0..total {
        timestamps.push(ticks);
        ticks += u64::from(track.samples[i].duration);
        let packet = track
            .annex_b(i)
            .map_err(|e| VideoError::Malformed(e.to_string()))?;
        let decoded = decoder.decode(&packet).map_err(|e| VideoError::Decode {
            frame: i,
            reason: e.to_string(),
        })?;
        if let Some(yuv) = decoded {
            emit(&yuv, &mut produced, &timestamps)?;
        }
        if !progress.report("decode", (i + 1) as f64 / total as f64) {
            return Err(VideoError::Canceled);
        }
    }
    let rest = decoder.flush_remaining().map_err(|e| VideoError::Decode {
        frame: total,
        reason: e.to_string(),
    })?;
    for yuv in &rest {
        emit(yuv, &mut produced, &timestamps)?;
    }
    if produced != total {
        return Err(VideoError::Decode {
            frame: produced,
            reason: format!("{produced} pictures for {total} samples"),
        });
    }
    Ok(produced)
}

/// Decodes every frame into memory.
pub fn decode_mp4(
    bytes: &[u8],
    progress: &mut dyn Progress,
) -> Result<Vec<VideoFrame>, VideoError> {
    let mut frames = Vec::new();
    for_each_frame(bytes, progress, |f| {
        frames.push(f);
        Ok(())
    })?;
    Ok(frames)
}
