//! Readers for encoded animations: what a GIF or MP4 holds (size, frames, timing, codec), and the
//! samples of an MP4 video track for decoding. Used by tests across the workspace and by the API
//! to describe results; malformed input is an error, never a panic.

use std::io::Cursor;

use super::AnimationError;

/// What a reader finds in an encoded GIF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GifInfo {
    /// Logical screen width.
    pub width: u32,
    /// Logical screen height.
    pub height: u32,
    /// Number of frames (image descriptors).
    pub frame_count: usize,
    /// Each frame's delay in centiseconds.
    pub delays_cs: Vec<u16>,
    /// True when a NETSCAPE2.0 extension asks for endless looping.
    pub loops_forever: bool,
}

/// Reads the structure of a GIF without decoding its pixels.
pub fn inspect_gif(bytes: &[u8]) -> Result<GifInfo, AnimationError> {
    let malformed = |err: gif::DecodingError| AnimationError::Malformed {
        kind: "GIF",
        reason: err.to_string(),
    };
    let mut options = gif::DecodeOptions::new();
    options.skip_frame_decoding(true);
    let mut decoder = options.read_info(Cursor::new(bytes)).map_err(malformed)?;
    let mut delays_cs = Vec::new();
    while let Some(frame) = decoder.read_next_frame().map_err(malformed)? {
        delays_cs.push(frame.delay);
    }
    Ok(GifInfo {
        width: decoder.width().into(),
        height: decoder.height().into(),
        frame_count: delays_cs.len(),
        delays_cs,
        loops_forever: decoder.repeat() == gif::Repeat::Infinite,
    })
}

/// What a reader finds in the first video track of an MP4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mp4Info {
    /// Track width (from `tkhd`).
    pub width: u32,
    /// Track height (from `tkhd`).
    pub height: u32,
    /// Number of samples (frames).
    pub frame_count: usize,
    /// Media ticks per second (`mdhd`).
    pub timescale: u32,
    /// Media duration in ticks (`mdhd`).
    pub duration_ticks: u64,
    /// Sample entry four-character code, e.g. "avc1".
    pub codec: String,
}

/// One sample (frame) of a video track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mp4Sample {
    /// The sample's bytes: length-prefixed NAL units for H.264.
    pub data: Vec<u8>,
    /// Listed in `stss` (or every sample is, when there is no `stss`).
    pub keyframe: bool,
    /// Duration in media ticks.
    pub duration: u32,
}

/// The first video track of an MP4: its description and its samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mp4Track {
    /// Size, frame count, timing, codec.
    pub info: Mp4Info,
    /// Sequence parameter sets from `avcC` (empty for other codecs).
    pub sps: Vec<Vec<u8>>,
    /// Picture parameter sets from `avcC`.
    pub pps: Vec<Vec<u8>>,
    /// Bytes in each NAL length prefix (from `avcC`; 4 when absent).
    pub nal_length_size: u8,
    /// Samples in decoding order.
    pub samples: Vec<Mp4Sample>,
}

impl Mp4Track {
    /// Sample `index` as an Annex-B byte stream (start codes), preceded by the SPS and PPS when it
    /// is a keyframe: what an H.264 decoder such as OpenH264 takes.
    pub fn annex_b(&self, index: usize) -> Result<Vec<u8>, AnimationError> {
        let sample = self
            .samples
            .get(index)
            .ok_or_else(|| malformed(format!("no sample {index}")))?;
        let mut out = Vec::with_capacity(sample.data.len() + 64);
        if sample.keyframe {
            for set in self.sps.iter().chain(&self.pps) {
                out.extend_from_slice(&[0, 0, 0, 1]);
                out.extend_from_slice(set);
            }
        }
        let width = usize::from(self.nal_length_size);
        let mut rest = sample.data.as_slice();
        while !rest.is_empty() {
            if rest.len() < width {
                return Err(malformed(format!("sample {index}: truncated NAL length")));
            }
            let length = rest[..width]
                .iter()
                .fold(0usize, |n, &b| n << 8 | usize::from(b));
            let nal = rest
                .get(width..width + length)
                .ok_or_else(|| malformed(format!("sample {index}: NAL runs past the sample")))?;
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(nal);
            rest = &rest[width + length..];
        }
        Ok(out)
    }
}

fn malformed(reason: String) -> AnimationError {
    AnimationError::Malformed {
        kind: "MP4",
        reason,
    }
}

/// Reads the first video track's description from an MP4.
pub fn inspect_mp4(bytes: &[u8]) -> Result<Mp4Info, AnimationError> {
    Ok(parse(bytes, false)?.info)
}

/// Checks that `bytes` is a well-formed MP4 movie, not merely a file with `ftyp` at bytes 4–8:
/// the top-level boxes tile the file exactly, each with a printable four-character type, the
/// first is `ftyp`, and a `moov` describes a video track this module can read.
pub fn check_mp4(bytes: &[u8]) -> Result<(), AnimationError> {
    let top = boxes(bytes)?;
    if top.first().map(|b| &b.kind) != Some(b"ftyp") {
        return Err(malformed("the first box is not ftyp".into()));
    }
    if let Some(bad) = top
        .iter()
        .find(|b| !b.kind.iter().all(|c| (0x20..0x7f).contains(c)))
    {
        return Err(malformed(format!(
            "a top-level box has no valid type ({:02x?})",
            bad.kind
        )));
    }
    if !top.iter().any(|b| &b.kind == b"moov") {
        return Err(malformed("no moov box".into()));
    }
    inspect_mp4(bytes).map(|_| ())
}

/// Reads the first video track of an MP4 with all its samples.
pub fn demux_mp4(bytes: &[u8]) -> Result<Mp4Track, AnimationError> {
    parse(bytes, true)
}

/// A box: its four-character type and body.
struct Mp4Box<'a> {
    kind: [u8; 4],
    body: &'a [u8],
}

/// The boxes laid end to end in `data`.
fn boxes(mut data: &[u8]) -> Result<Vec<Mp4Box<'_>>, AnimationError> {
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.len() < 8 {
            return Err(malformed("truncated box header".into()));
        }
        let size32 = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        let kind = [data[4], data[5], data[6], data[7]];
        let (header, size) = match size32 {
            0 => (8, data.len() as u64),
            1 => {
                let large = data
                    .get(8..16)
                    .ok_or_else(|| malformed("truncated large size".into()))?;
                (16, u64::from_be_bytes(large.try_into().unwrap_or([0; 8])))
            }
            n => (8, u64::from(n)),
        };
        let size = usize::try_from(size).map_err(|_| malformed("box too large".into()))?;
        if size < header || size > data.len() {
            return Err(malformed(format!(
                "box {} claims {size} bytes, {} left",
                String::from_utf8_lossy(&kind),
                data.len()
            )));
        }
        out.push(Mp4Box {
            kind,
            body: &data[header..size],
        });
        data = &data[size..];
    }
    Ok(out)
}

/// The body of the first child of `kind` in `data`.
fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Result<&'a [u8], AnimationError> {
    boxes(data)?
        .into_iter()
        .find(|b| &b.kind == kind)
        .map(|b| b.body)
        .ok_or_else(|| malformed(format!("no {} box", String::from_utf8_lossy(kind))))
}

/// Big-endian reads with bounds checks.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0 }
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], AnimationError> {
        let out = self
            .data
            .get(self.at..self.at + n)
            .ok_or_else(|| malformed("table shorter than its entry count".into()))?;
        self.at += n;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, AnimationError> {
        Ok(self.bytes(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, AnimationError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, AnimationError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, AnimationError> {
        Ok(u64::from(self.u32()?) << 32 | u64::from(self.u32()?))
    }

    fn skip(&mut self, n: usize) -> Result<(), AnimationError> {
        self.bytes(n).map(|_| ())
    }
}

/// Entry counts are checked against the bytes left before allocating, so a forged count costs
/// nothing.
fn count(reader: &mut Reader<'_>, entry_size: usize) -> Result<usize, AnimationError> {
    let n = reader.u32()? as usize;
    if n.saturating_mul(entry_size) > reader.data.len().saturating_sub(reader.at) {
        return Err(malformed(format!("entry count {n} exceeds the table")));
    }
    Ok(n)
}

fn parse(bytes: &[u8], with_samples: bool) -> Result<Mp4Track, AnimationError> {
    let moov = child(bytes, b"moov")?;
    let trak = boxes(moov)?
        .into_iter()
        .filter(|b| &b.kind == b"trak")
        .find(|t| {
            child(t.body, b"mdia")
                .and_then(|m| child(m, b"hdlr"))
                .is_ok_and(|h| h.get(8..12) == Some(b"vide"))
        })
        .ok_or_else(|| malformed("no video track".into()))?
        .body;

    let mut tkhd = Reader::new(child(trak, b"tkhd")?);
    let version = tkhd.u8()?;
    tkhd.skip(3)?;
    tkhd.skip(if version == 1 { 32 } else { 20 })?; // times, track ID, reserved, duration
    tkhd.skip(8 + 8 + 36)?; // reserved, layer..volume, matrix
    let width = tkhd.u32()? >> 16;
    let height = tkhd.u32()? >> 16;

    let mdia = child(trak, b"mdia")?;
    let mut mdhd = Reader::new(child(mdia, b"mdhd")?);
    let version = mdhd.u8()?;
    mdhd.skip(3)?;
    let (timescale, duration_ticks) = if version == 1 {
        mdhd.skip(16)?;
        (mdhd.u32()?, mdhd.u64()?)
    } else {
        mdhd.skip(8)?;
        (mdhd.u32()?, u64::from(mdhd.u32()?))
    };

    let stbl = child(child(mdia, b"minf")?, b"stbl")?;
    let mut stsd = Reader::new(child(stbl, b"stsd")?);
    stsd.skip(8)?; // version, flags, entry count
    let entries = boxes(&stsd.data[stsd.at..])?;
    let entry = entries
        .first()
        .ok_or_else(|| malformed("empty stsd".into()))?;
    let codec = String::from_utf8_lossy(&entry.kind).into_owned();
    let (sps, pps, nal_length_size) = if codec == "avc1" || codec == "avc3" {
        // Visual sample entry fields take 78 bytes before the child boxes.
        let children = entry
            .body
            .get(78..)
            .ok_or_else(|| malformed("short avc1 entry".into()))?;
        parse_avcc(child(children, b"avcC")?)?
    } else {
        (Vec::new(), Vec::new(), 4)
    };

    let sizes = sample_sizes(child(stbl, b"stsz")?)?;
    let info = Mp4Info {
        width,
        height,
        frame_count: sizes.len(),
        timescale,
        duration_ticks,
        codec,
    };
    let samples = if with_samples {
        read_samples(bytes, stbl, &sizes)?
    } else {
        Vec::new()
    };
    Ok(Mp4Track {
        info,
        sps,
        pps,
        nal_length_size,
        samples,
    })
}

type AvcConfig = (Vec<Vec<u8>>, Vec<Vec<u8>>, u8);

fn parse_avcc(body: &[u8]) -> Result<AvcConfig, AnimationError> {
    let mut r = Reader::new(body);
    r.skip(4)?; // version, profile, compatibility, level
    let nal_length_size = (r.u8()? & 3) + 1;
    let sets = |count: usize, r: &mut Reader<'_>| -> Result<Vec<Vec<u8>>, AnimationError> {
        (0..count)
            .map(|_| {
                let n = usize::from(r.u16()?);
                Ok(r.bytes(n)?.to_vec())
            })
            .collect()
    };
    let sps_count = usize::from(r.u8()? & 0x1f);
    let sps = sets(sps_count, &mut r)?;
    let pps_count = usize::from(r.u8()?);
    let pps = sets(pps_count, &mut r)?;
    Ok((sps, pps, nal_length_size))
}

fn sample_sizes(stsz: &[u8]) -> Result<Vec<u32>, AnimationError> {
    let mut r = Reader::new(stsz);
    r.skip(4)?;
    let uniform = r.u32()?;
    if uniform != 0 {
        let n = r.u32()? as usize;
        // A uniform size with a forged huge count would allocate; cap by what the file could hold.
        if n > 1 << 24 {
            return Err(malformed(format!("{n} samples")));
        }
        return Ok(vec![uniform; n]);
    }
    let n = count(&mut r, 4)?;
    (0..n).map(|_| r.u32()).collect()
}

fn read_samples(
    bytes: &[u8],
    stbl: &[u8],
    sizes: &[u32],
) -> Result<Vec<Mp4Sample>, AnimationError> {
    // Chunk offsets (stco or co64).
    let offsets: Vec<u64> = if let Ok(stco) = child(stbl, b"stco") {
        let mut r = Reader::new(stco);
        r.skip(4)?;
        let n = count(&mut r, 4)?;
        (0..n)
            .map(|_| r.u32().map(u64::from))
            .collect::<Result<_, _>>()?
    } else {
        let mut r = Reader::new(child(stbl, b"co64")?);
        r.skip(4)?;
        let n = count(&mut r, 8)?;
        (0..n).map(|_| r.u64()).collect::<Result<_, _>>()?
    };
    // Samples per chunk, from stsc runs.
    let mut r = Reader::new(child(stbl, b"stsc")?);
    r.skip(4)?;
    let n = count(&mut r, 12)?;
    let mut runs = Vec::with_capacity(n);
    for _ in 0..n {
        let first_chunk = r.u32()? as usize;
        let per_chunk = r.u32()? as usize;
        r.skip(4)?;
        runs.push((first_chunk, per_chunk));
    }
    // Durations from stts runs.
    let mut r = Reader::new(child(stbl, b"stts")?);
    r.skip(4)?;
    let n = count(&mut r, 8)?;
    let mut durations = Vec::with_capacity(sizes.len());
    for _ in 0..n {
        let (count, delta) = (r.u32()? as usize, r.u32()?);
        let room = sizes.len().saturating_sub(durations.len());
        durations.extend(std::iter::repeat_n(delta, count.min(room)));
    }
    // Sync samples; no stss means every sample is one.
    let keys: Option<Vec<u32>> = match child(stbl, b"stss") {
        Ok(stss) => {
            let mut r = Reader::new(stss);
            r.skip(4)?;
            let n = count(&mut r, 4)?;
            Some((0..n).map(|_| r.u32()).collect::<Result<_, _>>()?)
        }
        Err(_) => None,
    };

    let mut samples = Vec::with_capacity(sizes.len());
    let mut next = 0usize;
    for (chunk_index, &offset) in offsets.iter().enumerate() {
        let chunk_number = chunk_index + 1;
        let per_chunk = runs
            .iter()
            .rev()
            .find(|(first, _)| *first <= chunk_number)
            .map_or(0, |&(_, n)| n);
        let mut at = usize::try_from(offset).map_err(|_| malformed("offset too large".into()))?;
        for _ in 0..per_chunk {
            let Some(&size) = sizes.get(next) else { break };
            let outside = || malformed(format!("sample {next} lies outside the file"));
            let end = at.checked_add(size as usize).ok_or_else(outside)?;
            let data = bytes.get(at..end).ok_or_else(outside)?;
            let number = next as u32 + 1;
            samples.push(Mp4Sample {
                data: data.to_vec(),
                keyframe: keys
                    .as_ref()
                    .is_none_or(|k| k.binary_search(&number).is_ok()),
                duration: durations.get(next).copied().unwrap_or(0),
            });
            at = end;
            next += 1;
        }
    }
    if samples.len() != sizes.len() {
        return Err(malformed(format!(
            "chunks hold {} samples, stsz lists {}",
            samples.len(),
            sizes.len()
        )));
    }
    Ok(samples)
}
