//! A minimal ISO-BMFF (MP4) writer for one H.264 video track, laid out for streaming
//! ("faststart"): `ftyp`, then `moov` with the whole sample table, then `mdat` with the samples
//! (length-prefixed NAL units; SPS and PPS live in `avcC`, not in the samples).
//!
//! All samples form one chunk, so `stsc` has one entry and `stco` one offset.

use super::AnimationError;

/// One access unit: length-prefixed NAL units of one picture.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub data: Vec<u8>,
    pub keyframe: bool,
    /// In `EncodedVideo::timescale` ticks.
    pub duration: u32,
}

/// An encoded H.264 stream ready to be wrapped.
#[derive(Debug, Clone)]
pub(crate) struct EncodedVideo {
    pub width: u32,
    pub height: u32,
    /// Media ticks per second.
    pub timescale: u32,
    pub sps: Vec<u8>,
    pub pps: Vec<u8>,
    pub samples: Vec<Sample>,
}

/// The movie-level clock (`mvhd`, `tkhd`): milliseconds.
const MOVIE_TIMESCALE: u32 = 1000;

/// Appends a box of `kind` whose body `body` writes, then fills in its size.
fn write_box(out: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(kind);
    body(out);
    // Boxes here are small (sample tables); only `mdat` could pass 4 GiB and it is written apart.
    let size = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

/// A "full box": a box whose body starts with a version byte and 24 bits of flags.
fn write_full_box(
    out: &mut Vec<u8>,
    kind: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
    write_box(out, kind, |out| {
        out.extend_from_slice(&(u32::from(version) << 24 | (flags & 0x00ff_ffff)).to_be_bytes());
        body(out);
    });
}

fn u16be(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

fn u32be(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// The identity transformation matrix of `mvhd` / `tkhd`.
fn matrix(out: &mut Vec<u8>) {
    for value in [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        u32be(out, value);
    }
}

/// Writes the whole file.
pub(crate) fn write_mp4(video: &EncodedVideo) -> Result<Vec<u8>, AnimationError> {
    let payload: usize = video.samples.iter().map(|s| s.data.len()).sum();
    let mdat_size = u32::try_from(payload + 8)
        .map_err(|_| AnimationError::Encode("MP4 media data over 4 GiB".into()))?;
    let media_duration: u64 = video.samples.iter().map(|s| u64::from(s.duration)).sum();
    let media_duration = u32::try_from(media_duration)
        .map_err(|_| AnimationError::Encode("MP4 duration overflows 32 bits".into()))?;
    if video.sps.len() < 4 || video.pps.is_empty() {
        return Err(AnimationError::Encode("SPS or PPS too short".into()));
    }

    let mut head = Vec::new();
    write_box(&mut head, b"ftyp", |out| {
        out.extend_from_slice(b"isom");
        u32be(out, 0x200);
        for brand in [b"isom", b"iso2", b"avc1", b"mp41"] {
            out.extend_from_slice(brand);
        }
    });
    // The chunk offset depends on the size of `moov`, which does not depend on the offset.
    let moov_size = moov(video, media_duration, 0).len();
    let chunk_offset = u32::try_from(head.len() + moov_size + 8)
        .map_err(|_| AnimationError::Encode("MP4 header over 4 GiB".into()))?;
    head.extend_from_slice(&moov(video, media_duration, chunk_offset));

    let mut out = Vec::with_capacity(head.len() + payload + 8);
    out.extend_from_slice(&head);
    u32be(&mut out, mdat_size);
    out.extend_from_slice(b"mdat");
    for sample in &video.samples {
        out.extend_from_slice(&sample.data);
    }
    Ok(out)
}

fn moov(video: &EncodedVideo, media_duration: u32, chunk_offset: u32) -> Vec<u8> {
    let movie_duration = (u64::from(media_duration) * u64::from(MOVIE_TIMESCALE)
        / u64::from(video.timescale)) as u32;
    let mut out = Vec::new();
    write_box(&mut out, b"moov", |out| {
        write_full_box(out, b"mvhd", 0, 0, |out| {
            u32be(out, 0); // creation time
            u32be(out, 0); // modification time
            u32be(out, MOVIE_TIMESCALE);
            u32be(out, movie_duration);
            u32be(out, 0x0001_0000); // rate 1.0
            u16be(out, 0x0100); // volume 1.0
            out.extend_from_slice(&[0; 10]);
            matrix(out);
            out.extend_from_slice(&[0; 24]); // pre_defined
            u32be(out, 2); // next track ID
        });
        write_box(out, b"trak", |out| {
            write_full_box(out, b"tkhd", 0, 0x3, |out| {
                u32be(out, 0);
                u32be(out, 0);
                u32be(out, 1); // track ID
                u32be(out, 0);
                u32be(out, movie_duration);
                out.extend_from_slice(&[0; 8]);
                u16be(out, 0); // layer
                u16be(out, 0); // alternate group
                u16be(out, 0); // volume: video has none
                u16be(out, 0);
                matrix(out);
                u32be(out, video.width << 16);
                u32be(out, video.height << 16);
            });
            write_box(out, b"mdia", |out| {
                write_full_box(out, b"mdhd", 0, 0, |out| {
                    u32be(out, 0);
                    u32be(out, 0);
                    u32be(out, video.timescale);
                    u32be(out, media_duration);
                    u16be(out, 0x55c4); // language "und"
                    u16be(out, 0);
                });
                write_full_box(out, b"hdlr", 0, 0, |out| {
                    u32be(out, 0);
                    out.extend_from_slice(b"vide");
                    out.extend_from_slice(&[0; 12]);
                    out.extend_from_slice(b"VideoHandler\0");
                });
                write_box(out, b"minf", |out| {
                    write_full_box(out, b"vmhd", 0, 1, |out| out.extend_from_slice(&[0; 8]));
                    write_box(out, b"dinf", |out| {
                        write_full_box(out, b"dref", 0, 0, |out| {
                            u32be(out, 1);
                            // Flag 1: the media data is in this file.
                            write_full_box(out, b"url ", 0, 1, |_| {});
                        });
                    });
                    stbl(out, video, chunk_offset);
                });
            });
        });
    });
    out
}

fn stbl(out: &mut Vec<u8>, video: &EncodedVideo, chunk_offset: u32) {
    write_box(out, b"stbl", |out| {
        write_full_box(out, b"stsd", 0, 0, |out| {
            u32be(out, 1);
            avc1(out, video);
        });
        write_full_box(out, b"stts", 0, 0, |out| {
            let mut runs: Vec<(u32, u32)> = Vec::new();
            for sample in &video.samples {
                match runs.last_mut() {
                    Some((count, delta)) if *delta == sample.duration => *count += 1,
                    _ => runs.push((1, sample.duration)),
                }
            }
            u32be(out, runs.len() as u32);
            for (count, delta) in runs {
                u32be(out, count);
                u32be(out, delta);
            }
        });
        write_full_box(out, b"stss", 0, 0, |out| {
            let keys: Vec<u32> = (1..)
                .zip(&video.samples)
                .filter(|(_, s)| s.keyframe)
                .map(|(n, _)| n)
                .collect();
            u32be(out, keys.len() as u32);
            for key in keys {
                u32be(out, key);
            }
        });
        write_full_box(out, b"stsc", 0, 0, |out| {
            u32be(out, 1);
            u32be(out, 1); // first chunk
            u32be(out, video.samples.len() as u32); // samples per chunk
            u32be(out, 1); // sample description index
        });
        write_full_box(out, b"stsz", 0, 0, |out| {
            u32be(out, 0); // sizes differ: one per sample follows
            u32be(out, video.samples.len() as u32);
            for sample in &video.samples {
                u32be(out, sample.data.len() as u32);
            }
        });
        write_full_box(out, b"stco", 0, 0, |out| {
            u32be(out, 1);
            u32be(out, chunk_offset);
        });
    });
}

fn avc1(out: &mut Vec<u8>, video: &EncodedVideo) {
    write_box(out, b"avc1", |out| {
        out.extend_from_slice(&[0; 6]);
        u16be(out, 1); // data reference index
        out.extend_from_slice(&[0; 16]); // pre_defined, reserved
        u16be(out, video.width as u16);
        u16be(out, video.height as u16);
        u32be(out, 0x0048_0000); // 72 dpi
        u32be(out, 0x0048_0000);
        u32be(out, 0);
        u16be(out, 1); // frames per sample
        let mut name = [0u8; 32];
        let label = b"atelier h264";
        name[0] = label.len() as u8;
        name[1..=label.len()].copy_from_slice(label);
        out.extend_from_slice(&name);
        u16be(out, 0x0018); // depth: colour, no alpha
        u16be(out, 0xffff); // pre_defined = -1
        write_box(out, b"avcC", |out| {
            out.push(1); // configuration version
            out.extend_from_slice(&video.sps[1..4]); // profile, compatibility, level
            out.push(0xfc | 3); // 4-byte NAL lengths
            out.push(0xe0 | 1); // one SPS
            u16be(out, video.sps.len() as u16);
            out.extend_from_slice(&video.sps);
            out.push(1); // one PPS
            u16be(out, video.pps.len() as u16);
            out.extend_from_slice(&video.pps);
        });
        // Colour description matching the BT.601 limited-range conversion (SMPTE 170M).
        write_box(out, b"colr", |out| {
            out.extend_from_slice(b"nclx");
            u16be(out, 6);
            u16be(out, 6);
            u16be(out, 6);
            out.push(0); // limited range
        });
    });
}
