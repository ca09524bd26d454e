//! End-to-end checks of the animation encoders: GIFs read back through `image`'s decoder, MP4s
//! through our demuxer + OpenH264's decoder and, when installed, through ffprobe/ffmpeg
//! (required when `ATELIER_REQUIRE_FFPROBE=1`).

use std::io::Cursor;
use std::process::Command;

use atelier_imaging::animation::{
    AnimationLimits, demux_mp4, encode_gif_with_limits, gif_delays_cs,
};
use atelier_imaging::{
    AnimationError, GifOptions, Mp4Options, RgbaImage, encode_gif, encode_mp4, inspect_gif,
    inspect_mp4,
};
use image::{AnimationDecoder, Rgba, codecs::gif::GifDecoder};

const RED: Rgba<u8> = Rgba([230, 20, 20, 255]);
const GREEN: Rgba<u8> = Rgba([20, 200, 40, 255]);
const BLUE: Rgba<u8> = Rgba([30, 40, 220, 255]);
const CREAM: Rgba<u8> = Rgba([250, 240, 200, 255]);
const CLEAR: Rgba<u8> = Rgba([0, 0, 0, 0]);

/// A 4-colour animation: a red square moving over cream, a fixed green bar, a blinking blue dot.
fn four_colour_frames(count: usize) -> Vec<RgbaImage> {
    (0..count)
        .map(|i| {
            RgbaImage::from_fn(24, 16, |x, y| {
                let sx = 2 + i as u32 * 2;
                if (sx..sx + 4).contains(&x) && (5..9).contains(&y) {
                    RED
                } else if y >= 13 {
                    GREEN
                } else if i % 2 == 0 && x == 20 && y == 2 {
                    BLUE
                } else {
                    CREAM
                }
            })
        })
        .collect()
}

/// Frames with many colours: a moving diagonal gradient.
fn gradient_frames(count: usize, width: u32, height: u32) -> Vec<RgbaImage> {
    (0..count)
        .map(|i| {
            RgbaImage::from_fn(width, height, |x, y| {
                Rgba([
                    ((x * 255) / width) as u8,
                    ((y * 255) / height) as u8,
                    ((x + y + i as u32 * 3) % 256) as u8,
                    255,
                ])
            })
        })
        .collect()
}

fn decode_gif(bytes: &[u8]) -> Vec<image::Frame> {
    GifDecoder::new(Cursor::new(bytes))
        .expect("gif header")
        .into_frames()
        .collect_frames()
        .expect("gif frames")
}

// ---------------------------------------------------------------- GIF

#[test]
fn a_four_colour_gif_round_trips_exactly_with_delays_and_loop() {
    let frames = four_colour_frames(6);
    let bytes = encode_gif(&frames, 30, &GifOptions::default()).expect("encode");
    let info = inspect_gif(&bytes).expect("inspect");
    assert_eq!((info.width, info.height), (24, 16));
    assert_eq!(info.frame_count, 6);
    assert_eq!(info.delays_cs, vec![3, 4, 3, 3, 4, 3]);
    assert!(info.loops_forever);

    let decoded = decode_gif(&bytes);
    assert_eq!(decoded.len(), 6);
    for (i, (got, want)) in decoded.iter().zip(&frames).enumerate() {
        assert_eq!(got.buffer(), want, "frame {i} differs");
        let (numer, denom) = got.delay().numer_denom_ms();
        assert_eq!(numer / denom, u32::from(info.delays_cs[i]) * 10);
    }
}

#[test]
fn transparency_is_kept_even_where_it_appears_over_an_earlier_opaque_frame() {
    let mut frames = four_colour_frames(4);
    // Frame 1: a transparent hole; frame 2: a half-transparent pixel (alpha 127 → transparent);
    // frame 3: alpha 128 stays opaque.
    for (x, y) in [(0, 0), (1, 0), (0, 1)] {
        frames[1].put_pixel(x, y, CLEAR);
    }
    frames[2].put_pixel(5, 12, Rgba([250, 240, 200, 127]));
    frames[3].put_pixel(5, 12, Rgba([250, 240, 200, 128]));
    let bytes = encode_gif(&frames, 10, &GifOptions::default()).expect("encode");
    let decoded = decode_gif(&bytes);
    assert_eq!(decoded.len(), 4);
    for (i, (got, want)) in decoded.iter().zip(&frames).enumerate() {
        for (x, y, pixel) in want.enumerate_pixels() {
            let got = got.buffer().get_pixel(x, y);
            if pixel.0[3] < 128 {
                assert_eq!(got.0[3], 0, "frame {i} ({x},{y}) should be transparent");
            } else {
                assert_eq!(
                    got.0,
                    [pixel.0[0], pixel.0[1], pixel.0[2], 255],
                    "frame {i} ({x},{y})"
                );
            }
        }
    }
}

#[test]
fn fully_transparent_frames_encode_and_decode_as_transparent() {
    let frames = vec![RgbaImage::from_pixel(5, 4, CLEAR); 3];
    let bytes = encode_gif(&frames, 10, &GifOptions::default()).expect("encode");
    let decoded = decode_gif(&bytes);
    assert_eq!(decoded.len(), 3);
    for frame in &decoded {
        assert!(frame.buffer().pixels().all(|p| p.0[3] == 0));
    }
}

#[test]
fn a_background_colour_replaces_transparency() {
    let mut frame = RgbaImage::from_pixel(4, 4, CLEAR);
    frame.put_pixel(1, 1, RED);
    frame.put_pixel(2, 2, Rgba([0, 0, 0, 128]));
    let options = GifOptions {
        background: Some([0, 0, 255]),
        ..GifOptions::default()
    };
    let bytes = encode_gif(&[frame], 5, &options).expect("encode");
    let decoded = decode_gif(&bytes);
    let buffer = decoded[0].buffer();
    assert_eq!(buffer.get_pixel(0, 0).0, [0, 0, 255, 255]);
    assert_eq!(buffer.get_pixel(1, 1).0, RED.0);
    assert_eq!(buffer.get_pixel(2, 2).0, [0, 0, 127, 255]);
}

#[test]
fn without_loop_forever_there_is_no_netscape_extension() {
    let frames = four_colour_frames(2);
    let options = GifOptions {
        loop_forever: false,
        ..GifOptions::default()
    };
    let bytes = encode_gif(&frames, 10, &options).expect("encode");
    assert!(!inspect_gif(&bytes).expect("inspect").loops_forever);
    assert!(!bytes.windows(11).any(|w| w == b"NETSCAPE2.0"));
    let looping = encode_gif(&frames, 10, &GifOptions::default()).expect("encode");
    assert!(looping.windows(11).any(|w| w == b"NETSCAPE2.0"));
}

#[test]
fn one_hundred_fifty_frames_at_thirty_fps_last_exactly_five_seconds() {
    let frames = vec![RgbaImage::from_pixel(2, 2, RED); 150];
    let bytes = encode_gif(&frames, 30, &GifOptions::default()).expect("encode");
    let info = inspect_gif(&bytes).expect("inspect");
    assert_eq!(info.frame_count, 150);
    assert_eq!(
        info.delays_cs.iter().map(|&d| u32::from(d)).sum::<u32>(),
        500
    );
    assert_eq!(info.delays_cs, gif_delays_cs(150, 30));
}

#[test]
fn dithering_changes_nothing_when_the_colours_fit_the_palette() {
    // The same 240 distinct colours in every frame, shifted one place per frame.
    let frames: Vec<RgbaImage> = (0..3u32)
        .map(|i| {
            RgbaImage::from_fn(16, 15, move |x, y| {
                let n = (y * 16 + x + i) % 240;
                Rgba([(n % 16 * 16) as u8, (n / 16 * 17) as u8, 9, 255])
            })
        })
        .collect();
    let dithered = encode_gif(&frames, 12, &GifOptions::default()).expect("encode");
    let plain = encode_gif(
        &frames,
        12,
        &GifOptions {
            dither: false,
            ..GifOptions::default()
        },
    )
    .expect("encode");
    assert_eq!(dithered, plain);
    let decoded = decode_gif(&plain);
    for (got, want) in decoded.iter().zip(&frames) {
        assert_eq!(got.buffer(), want);
    }
}

#[test]
fn many_colour_frames_decode_close_to_the_source_with_or_without_dithering() {
    let frames = gradient_frames(3, 64, 48);
    for dither in [false, true] {
        let options = GifOptions {
            dither,
            ..GifOptions::default()
        };
        let bytes = encode_gif(&frames, 25, &options).expect("encode");
        let decoded = decode_gif(&bytes);
        assert_eq!(decoded.len(), 3);
        for (got, want) in decoded.iter().zip(&frames) {
            let mut total_error = 0u64;
            for (a, b) in got.buffer().pixels().zip(want.pixels()) {
                for k in 0..3 {
                    total_error += u64::from(a.0[k].abs_diff(b.0[k]));
                }
                assert_eq!(a.0[3], 255);
            }
            let mean = total_error as f64 / (64.0 * 48.0 * 3.0);
            assert!(mean < 6.0, "dither {dither}: mean error {mean}");
        }
    }
}

#[test]
fn repeated_frames_stay_frames_and_decode_unchanged() {
    let base = four_colour_frames(2);
    let frames = vec![
        base[0].clone(),
        base[0].clone(),
        base[1].clone(),
        base[1].clone(),
    ];
    let bytes = encode_gif(&frames, 20, &GifOptions::default()).expect("encode");
    let decoded = decode_gif(&bytes);
    assert_eq!(decoded.len(), 4);
    for (got, want) in decoded.iter().zip(&frames) {
        assert_eq!(got.buffer(), want);
    }
    // The repeats cost almost nothing.
    let single = encode_gif(&base, 20, &GifOptions::default()).expect("encode");
    assert!(
        bytes.len() < single.len() + 64,
        "{} vs {}",
        bytes.len(),
        single.len()
    );
}

#[test]
fn encoding_is_deterministic_whatever_the_thread_scheduling() {
    let frames = gradient_frames(8, 96, 64);
    let gif = || encode_gif(&frames, 24, &GifOptions::default()).expect("gif");
    assert_eq!(gif(), gif());
    let frames = gradient_frames(40, 32, 32);
    let mp4 = || encode_mp4(&frames, 10, &Mp4Options::default()).expect("mp4");
    assert_eq!(mp4(), mp4());
}

#[test]
fn gif_input_errors_are_typed() {
    let frames = four_colour_frames(2);
    let options = GifOptions::default();
    assert!(matches!(
        encode_gif(&[], 10, &options),
        Err(AnimationError::NoFrames)
    ));
    assert!(matches!(
        encode_gif(&frames, 0, &options),
        Err(AnimationError::InvalidFps)
    ));
    assert!(matches!(
        encode_gif(&frames, 121, &options),
        Err(AnimationError::InvalidFps)
    ));
    let mixed = vec![frames[0].clone(), RgbaImage::new(3, 3)];
    assert!(matches!(
        encode_gif(&mixed, 10, &options),
        Err(AnimationError::FrameSizeMismatch { index: 1, .. })
    ));
    let limits = AnimationLimits {
        max_frames: 1,
        ..AnimationLimits::default()
    };
    assert!(matches!(
        encode_gif_with_limits(&frames, 10, &options, &limits),
        Err(AnimationError::TooLarge {
            what: "frame count",
            ..
        })
    ));
    assert!(matches!(
        inspect_gif(b"GIF89a\x01"),
        Err(AnimationError::Malformed { kind: "GIF", .. })
    ));
}

// ---------------------------------------------------------------- MP4

/// A clip whose frame `solid_at` is one flat colour and the others move.
fn clip(count: usize, width: u32, height: u32, solid_at: usize, solid: Rgba<u8>) -> Vec<RgbaImage> {
    let mut frames = gradient_frames(count, width, height);
    frames[solid_at] = RgbaImage::from_pixel(width, height, solid);
    frames
}

#[test]
fn an_mp4_describes_its_size_frames_timing_and_codec() {
    let frames = clip(12, 64, 48, 3, GREEN);
    let bytes = encode_mp4(&frames, 24, &Mp4Options::default()).expect("encode");
    let info = inspect_mp4(&bytes).expect("inspect");
    assert_eq!((info.width, info.height), (64, 48));
    assert_eq!(info.frame_count, 12);
    assert_eq!(info.codec, "avc1");
    assert_eq!(info.duration_ticks * 24, 12 * u64::from(info.timescale));
    // faststart: the index comes before the media.
    let moov = bytes.windows(4).position(|w| w == b"moov").expect("moov");
    let mdat = bytes.windows(4).position(|w| w == b"mdat").expect("mdat");
    assert!(moov < mdat);
}

/// Mean colour of packed RGB bytes.
fn mean_rgb(rgb: &[u8]) -> [f64; 3] {
    let mut sum = [0f64; 3];
    for pixel in rgb.chunks_exact(3) {
        for k in 0..3 {
            sum[k] += f64::from(pixel[k]);
        }
    }
    let n = (rgb.len() / 3) as f64;
    sum.map(|s| s / n)
}

/// Every pixel of `rgb` within `tolerance` of `want`.
fn assert_all_near(rgb: &[u8], want: Rgba<u8>, tolerance: u8, what: &str) {
    for pixel in rgb.chunks_exact(3) {
        for k in 0..3 {
            assert!(
                pixel[k].abs_diff(want.0[k]) <= tolerance,
                "{what}: decoded {pixel:?}, want {:?}",
                want.0
            );
        }
    }
}

#[test]
fn openh264_decodes_every_frame_back_with_the_right_colour() {
    // A solid keyframe (decodes within YUV rounding), moving frames, then a solid predicted frame
    // (lossier: its mean colour is checked).
    let mut frames = clip(10, 48, 32, 0, BLUE);
    frames[6] = RgbaImage::from_pixel(48, 32, GREEN);
    let bytes = encode_mp4(&frames, 30, &Mp4Options::default()).expect("encode");
    let track = demux_mp4(&bytes).expect("demux");
    assert_eq!(track.samples.len(), 10);
    assert!(track.samples[0].keyframe);
    assert!(!track.samples[6].keyframe);
    assert_eq!(track.sps.len(), 1);
    assert_eq!(track.pps.len(), 1);
    // SPS/PPS travel in avcC only.
    for sample in &track.samples {
        assert!(
            sample_nal_types(sample.data.as_slice())
                .iter()
                .all(|&t| t != 7 && t != 8),
            "parameter sets inside a sample"
        );
    }

    let mut decoder = openh264::decoder::Decoder::new().expect("decoder");
    let mut decoded = Vec::new();
    for i in 0..track.samples.len() {
        let packet = track.annex_b(i).expect("annex b");
        if let Some(yuv) = decoder.decode(&packet).expect("decode") {
            use openh264::formats::YUVSource;
            assert_eq!(yuv.dimensions(), (48, 32));
            let mut rgb = vec![0u8; 48 * 32 * 3];
            yuv.write_rgb8(&mut rgb);
            decoded.push(rgb);
        }
    }
    assert!(decoder.flush_remaining().expect("flush").is_empty());
    assert_eq!(decoded.len(), 10);
    assert_all_near(&decoded[0], BLUE, 4, "keyframe");
    let mean = mean_rgb(&decoded[6]);
    for k in 0..3 {
        assert!(
            (mean[k] - f64::from(GREEN.0[k])).abs() < 5.0,
            "P frame mean {mean:?}"
        );
    }
}

fn sample_nal_types(mut data: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while data.len() > 4 {
        let n = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
        types.push(data[4] & 0x1f);
        data = &data[4 + n..];
    }
    types
}

#[test]
fn keyframes_come_every_two_seconds() {
    let frames = gradient_frames(75, 32, 32);
    let bytes = encode_mp4(&frames, 15, &Mp4Options::default()).expect("encode");
    let track = demux_mp4(&bytes).expect("demux");
    let keys: Vec<usize> = (0..track.samples.len())
        .filter(|&i| track.samples[i].keyframe)
        .collect();
    assert_eq!(keys, vec![0, 30, 60]);
    for (i, sample) in track.samples.iter().enumerate() {
        assert_eq!(
            sample_nal_types(&sample.data).contains(&5),
            sample.keyframe,
            "sample {i}"
        );
    }
}

#[test]
fn odd_sizes_are_padded_to_even() {
    let frames = clip(3, 33, 17, 0, RED);
    let bytes = encode_mp4(&frames, 10, &Mp4Options::default()).expect("encode");
    let info = inspect_mp4(&bytes).expect("inspect");
    assert_eq!((info.width, info.height, info.frame_count), (34, 18, 3));
}

#[test]
fn a_bitrate_target_bounds_the_size() {
    // Noise does not compress: the size follows the bitrate target.
    let frames: Vec<RgbaImage> = (0..30u32)
        .map(|i| {
            RgbaImage::from_fn(128, 96, |x, y| {
                let h = (x.wrapping_mul(73_856_093)
                    ^ y.wrapping_mul(19_349_663)
                    ^ i.wrapping_mul(83_492_791))
                .wrapping_mul(2_654_435_761);
                Rgba([(h >> 24) as u8, (h >> 16) as u8, (h >> 8) as u8, 255])
            })
        })
        .collect();
    let size = |kbps| {
        let options = Mp4Options {
            bitrate_kbps: Some(kbps),
            ..Mp4Options::default()
        };
        let bytes = encode_mp4(&frames, 30, &options).expect("encode");
        assert_eq!(inspect_mp4(&bytes).expect("inspect").frame_count, 30);
        bytes.len()
    };
    let (low, high) = (size(100), size(2000));
    assert!(low * 2 < high, "low {low} high {high}");
}

#[test]
fn tiny_frames_are_padded_to_one_macroblock() {
    let frames = vec![RgbaImage::from_pixel(5, 3, RED); 2];
    let bytes = encode_mp4(&frames, 10, &Mp4Options::default()).expect("encode");
    let info = inspect_mp4(&bytes).expect("inspect");
    assert_eq!((info.width, info.height, info.frame_count), (16, 16, 2));
}

#[test]
fn mp4_input_errors_are_typed() {
    let frames = gradient_frames(2, 16, 16);
    let options = Mp4Options::default();
    assert!(matches!(
        encode_mp4(&[], 10, &options),
        Err(AnimationError::NoFrames)
    ));
    assert!(matches!(
        encode_mp4(&frames, 0, &options),
        Err(AnimationError::InvalidFps)
    ));
    assert!(matches!(
        encode_mp4(&frames, 121, &options),
        Err(AnimationError::InvalidFps)
    ));
    let mixed = vec![frames[0].clone(), RgbaImage::new(16, 17)];
    assert!(matches!(
        encode_mp4(&mixed, 10, &options),
        Err(AnimationError::FrameSizeMismatch { index: 1, .. })
    ));
    assert!(matches!(
        inspect_mp4(b"\0\0\0\x10ftypisom"),
        Err(AnimationError::Malformed { kind: "MP4", .. })
    ));
    // A truncated file is an error, not a panic.
    let bytes = encode_mp4(&frames, 10, &options).expect("encode");
    assert!(demux_mp4(&bytes[..bytes.len() - 10]).is_err());
}

#[test]
fn readers_survive_truncated_and_corrupted_files() {
    let mp4 = encode_mp4(&gradient_frames(3, 16, 16), 10, &Mp4Options::default()).expect("mp4");
    let gif = encode_gif(&four_colour_frames(3), 10, &GifOptions::default()).expect("gif");
    for cut in 0..mp4.len() {
        let _ = demux_mp4(&mp4[..cut]);
    }
    for cut in 0..gif.len() {
        let _ = inspect_gif(&gif[..cut]);
    }
    // Every byte of the MP4 header set to 0xff in turn: errors or answers, never a panic.
    let moov_end = mp4.windows(4).position(|w| w == b"mdat").expect("mdat");
    for at in 0..moov_end {
        let mut bad = mp4.clone();
        bad[at] = 0xff;
        if let Ok(track) = demux_mp4(&bad) {
            for i in 0..track.samples.len() {
                let _ = track.annex_b(i);
            }
        }
    }
}

// ---------------------------------------------------------------- ffprobe / ffmpeg

/// Whether ffprobe runs; when `ATELIER_REQUIRE_FFPROBE=1` its absence fails the test.
fn ffprobe_available() -> bool {
    let present = Command::new("ffprobe")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present && std::env::var("ATELIER_REQUIRE_FFPROBE").as_deref() == Ok("1") {
        panic!("ATELIER_REQUIRE_FFPROBE=1 but ffprobe is not installed (apt-get install ffmpeg)");
    }
    if !present {
        eprintln!("ffprobe not installed: skipping the external decoder check");
    }
    present
}

#[test]
fn ffprobe_counts_every_frame_and_ffmpeg_decodes_the_colour() {
    if !ffprobe_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("clip.mp4");
    let frames = clip(45, 66, 40, 0, RED);
    std::fs::write(
        &path,
        encode_mp4(&frames, 30, &Mp4Options::default()).expect("encode"),
    )
    .expect("write");

    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
        ])
        .arg("stream=codec_name,width,height,nb_read_frames,r_frame_rate,duration")
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(&path)
        .output()
        .expect("ffprobe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "ffprobe complained: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "codec_name=h264",
        "width=66",
        "height=40",
        "nb_read_frames=45",
        "r_frame_rate=30/1",
        "duration=1.500000",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line} in:\n{text}"
        );
    }

    // The first frame, decoded by ffmpeg to RGB, is the solid red we encoded: ffmpeg reads the
    // colour description (BT.601, limited range) the way we wrote it. 66 is not a multiple of 16:
    // the partly cropped right-edge blocks come back a little off, so every pixel gets a looser
    // bound than the mean.
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), 66 * 40 * 3);
    assert_all_near(&out.stdout, RED, 10, "ffmpeg keyframe");
    let mean = mean_rgb(&out.stdout);
    for k in 0..3 {
        assert!(
            (mean[k] - f64::from(RED.0[k])).abs() < 3.0,
            "ffmpeg keyframe mean {mean:?}"
        );
    }
}

#[test]
fn ffprobe_reads_our_gif_size_and_frames() {
    if !ffprobe_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("anim.gif");
    std::fs::write(
        &path,
        encode_gif(&four_colour_frames(9), 30, &GifOptions::default()).expect("encode"),
    )
    .expect("write");
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames,width,height",
        ])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(&path)
        .output()
        .expect("ffprobe");
    let text = String::from_utf8_lossy(&out.stdout);
    for line in ["width=24", "height=16", "nb_read_frames=9"] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line} in:\n{text}"
        );
    }
}

#[test]
fn only_a_well_formed_mp4_passes_the_structure_check() {
    let frames = clip(6, 32, 32, 2, GREEN);
    let bytes = encode_mp4(&frames, 12, &Mp4Options::default()).expect("encode");
    assert!(atelier_imaging::animation::check_mp4(&bytes).is_ok());
    let header = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    let mut text = header.clone();
    text.extend_from_slice(b"plain text after a header, not boxes");
    assert!(atelier_imaging::animation::check_mp4(&text).is_err());
    let mut zeros = header.clone();
    zeros.extend_from_slice(&[0u8; 64]);
    assert!(atelier_imaging::animation::check_mp4(&zeros).is_err());
    // A real movie with junk appended no longer tiles.
    let mut trailing = bytes.clone();
    trailing.extend_from_slice(b"junk");
    assert!(atelier_imaging::animation::check_mp4(&trailing).is_err());
    // Cut short: the last box overruns the file.
    assert!(atelier_imaging::animation::check_mp4(&bytes[..bytes.len() - 10]).is_err());
}
