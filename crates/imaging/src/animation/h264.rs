//! MP4 (H.264) encoding: frames → I420 ([`super::yuv`]) → OpenH264 → samples → MP4 container
//! ([`super::mp4_mux`]).
//!
//! The stream is cut into groups of pictures of two seconds, each starting with an IDR frame; the
//! groups are encoded in parallel by separate encoders with identical settings (hence identical
//! SPS/PPS) and joined in order, so every core helps and seeking works in players.

use image::RgbaImage;
use openh264::OpenH264API;
use openh264::Timestamp;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, IntraFramePeriod, RateControlMode, VuiConfig,
};
use openh264::formats::YUVSlices;
use rayon::prelude::*;

use super::mp4_mux::{EncodedVideo, Sample, write_mp4};
use super::yuv::{padded_size, rgba_to_i420};
use super::{AnimationError, AnimationLimits, check_fps, check_frames, too_large};

/// OpenH264 refuses pictures larger than level 5.2 allows.
const MAX_LONG_SIDE: u64 = 3840;
const MAX_SHORT_SIDE: u64 = 2160;
/// Seconds between keyframes (and the size of the groups encoded in parallel).
const KEYFRAME_SECONDS: u32 = 2;

/// Options for [`encode_mp4`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mp4Options {
    /// Colour that transparent pixels are composited onto. Default white.
    pub background: [u8; 3],
    /// Target bitrate in kbit/s; `None` encodes at constant quality (QP 26, OpenH264's base
    /// quality) whatever the size.
    pub bitrate_kbps: Option<u32>,
}

impl Default for Mp4Options {
    fn default() -> Self {
        Self {
            background: [255, 255, 255],
            bitrate_kbps: None,
        }
    }
}

/// Encodes `frames` as an H.264 MP4 at `fps` (1–120), with the default [`AnimationLimits`].
///
/// Odd sides are padded to even, and sides under 16 pixels to 16 (OpenH264's minimum), by
/// repeating the last column / row; the file records the padded size.
pub fn encode_mp4(
    frames: &[RgbaImage],
    fps: u32,
    options: &Mp4Options,
) -> Result<Vec<u8>, AnimationError> {
    encode_mp4_with_limits(frames, fps, options, &AnimationLimits::default())
}

/// Encodes `frames` as an H.264 MP4 at `fps` under `limits`.
pub fn encode_mp4_with_limits(
    frames: &[RgbaImage],
    fps: u32,
    options: &Mp4Options,
    limits: &AnimationLimits,
) -> Result<Vec<u8>, AnimationError> {
    let (width, height) = check_frames(frames, limits)?;
    check_fps(fps, limits.max_fps)?;
    let (width, height) = padded_size(width, height);
    let (long, short) = (width.max(height), width.min(height));
    too_large("H.264 long side", long.into(), MAX_LONG_SIDE)?;
    too_large("H.264 short side", short.into(), MAX_SHORT_SIDE)?;
    if options.bitrate_kbps == Some(0) {
        return Err(AnimationError::InvalidParameter(
            "bitrate_kbps must be at least 1".into(),
        ));
    }

    let group = (fps * KEYFRAME_SECONDS) as usize;
    let groups: Vec<Vec<EncodedFrame>> = frames
        .par_chunks(group)
        .enumerate()
        .map(|(n, chunk)| encode_group(chunk, n * group, fps, options))
        .collect::<Result<_, _>>()?;

    let mut video = EncodedVideo {
        width,
        height,
        timescale: fps * 1000,
        sps: Vec::new(),
        pps: Vec::new(),
        samples: Vec::with_capacity(frames.len()),
    };
    for frame in groups.into_iter().flatten() {
        for (kind, parameter_set) in [("SPS", frame.sps), ("PPS", frame.pps)] {
            let Some(parameter_set) = parameter_set else {
                continue;
            };
            let known = if kind == "SPS" {
                &mut video.sps
            } else {
                &mut video.pps
            };
            if known.is_empty() {
                *known = parameter_set;
            } else if *known != parameter_set {
                return Err(AnimationError::Encode(format!(
                    "the encoder changed its {kind} mid-stream"
                )));
            }
        }
        if frame.nals.is_empty() {
            // A skipped frame: the previous picture stays on screen one frame longer.
            match video.samples.last_mut() {
                Some(last) => last.duration += 1000,
                None => {
                    return Err(AnimationError::Encode(
                        "the first frame produced no picture".into(),
                    ));
                }
            }
            continue;
        }
        video.samples.push(Sample {
            data: frame.nals,
            keyframe: frame.keyframe,
            duration: 1000,
        });
    }
    if video.sps.is_empty() || video.pps.is_empty() {
        return Err(AnimationError::Encode(
            "the encoder produced no SPS/PPS".into(),
        ));
    }
    write_mp4(&video)
}

/// One encoded frame: its picture NAL units (length-prefixed) and any parameter sets it carried.
struct EncodedFrame {
    nals: Vec<u8>,
    keyframe: bool,
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
}

fn h264_error(err: openh264::Error) -> AnimationError {
    AnimationError::Encode(format!("H.264: {err}"))
}

/// Encodes one group of pictures with a fresh encoder (so it starts with an IDR frame).
fn encode_group(
    frames: &[RgbaImage],
    first_index: usize,
    fps: u32,
    options: &Mp4Options,
) -> Result<Vec<EncodedFrame>, AnimationError> {
    let mut config = EncoderConfig::new()
        .skip_frames(false)
        .max_frame_rate(FrameRate::from_hz(fps as f32))
        .intra_frame_period(IntraFramePeriod::from_num_frames(fps * KEYFRAME_SECONDS))
        .vui(VuiConfig::bt601())
        .num_threads(1);
    config = match options.bitrate_kbps {
        Some(kbps) => config
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(kbps.saturating_mul(1000))),
        None => config.rate_control_mode(RateControlMode::Off),
    };
    let mut encoder =
        Encoder::with_api_config(OpenH264API::from_source(), config).map_err(h264_error)?;
    let mut out = Vec::with_capacity(frames.len());
    for (i, frame) in frames.iter().enumerate() {
        let yuv = rgba_to_i420(frame, options.background);
        let source = YUVSlices::new(
            (&yuv.y, &yuv.u, &yuv.v),
            (yuv.width, yuv.height),
            (yuv.width, yuv.width / 2, yuv.width / 2),
        );
        let millis = (first_index + i) as u64 * 1000 / u64::from(fps);
        let stream = encoder
            .encode_at(&source, Timestamp::from_millis(millis))
            .map_err(h264_error)?;
        let mut encoded = EncodedFrame {
            nals: Vec::new(),
            keyframe: false,
            sps: None,
            pps: None,
        };
        for layer in (0..stream.num_layers()).filter_map(|l| stream.layer(l)) {
            for nal in (0..layer.nal_count()).filter_map(|n| layer.nal_unit(n)) {
                let nal = strip_start_code(nal);
                let Some(&header) = nal.first() else { continue };
                match header & 0x1f {
                    7 => encoded.sps = Some(nal.to_vec()),
                    8 => encoded.pps = Some(nal.to_vec()),
                    9 => {} // access unit delimiters are not kept in MP4 samples
                    kind => {
                        encoded.keyframe |= kind == 5;
                        let length = u32::try_from(nal.len())
                            .map_err(|_| AnimationError::Encode("NAL unit over 4 GiB".into()))?;
                        encoded.nals.extend_from_slice(&length.to_be_bytes());
                        encoded.nals.extend_from_slice(nal);
                    }
                }
            }
        }
        out.push(encoded);
    }
    Ok(out)
}

/// The NAL unit without its Annex-B start code (`00 00 01` or `00 00 00 01`).
fn strip_start_code(nal: &[u8]) -> &[u8] {
    match nal {
        [0, 0, 0, 1, rest @ ..] | [0, 0, 1, rest @ ..] => rest,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_codes_of_both_lengths_are_removed() {
        assert_eq!(strip_start_code(&[0, 0, 0, 1, 0x67, 1]), &[0x67, 1]);
        assert_eq!(strip_start_code(&[0, 0, 1, 0x68]), &[0x68]);
        assert_eq!(strip_start_code(&[0x65, 0]), &[0x65, 0]);
    }
}
