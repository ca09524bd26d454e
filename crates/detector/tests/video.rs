//! Synthetic videos encoded with atelier's H.264 encoder and muxer decode back through the
//! in-tree decoder with the right frame count, timestamps and pictures; bad files get clear errors.

use atelier_detector::no_progress;
use atelier_detector::synth::{self, SynthParams};
use atelier_detector::video::{VideoError, decode_mp4, probe};
use image::RgbImage;

fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

fn clip() -> (synth::SynthVideo, Vec<u8>) {
    let v = synth::video(
        &SynthParams {
            width: 160,
            height: 120,
            objects: 3,
            seed: 5,
            ..SynthParams::default()
        },
        36,
        10,
    );
    let mp4 = synth::encode_video(&v.frames, 12).expect("encode");
    (v, mp4)
}

#[test]
fn a_synthetic_video_decodes_to_its_frames_in_order() {
    let (v, mp4) = clip();
    let info = probe(&mp4).expect("probe");
    assert_eq!((info.width, info.height, info.frame_count), (160, 120, 36));
    assert!((info.duration - 3.0).abs() < 1e-9, "{}", info.duration);
    assert_eq!(
        info.h264_profile,
        Some(66),
        "atelier's encoder writes Baseline"
    );
    assert!(info.decodes_in_process());
    let frames = decode_mp4(&mp4, &mut no_progress()).expect("decode");
    assert_eq!(frames.len(), 36);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.number, i);
        assert!(
            (f.timestamp - i as f64 / 12.0).abs() < 1e-9,
            "frame {i} at {}",
            f.timestamp
        );
        let own = mean_abs_diff(&f.image, &v.frames[i]);
        assert!(own < 6.0, "frame {i} differs from its source by {own}");
        // The right frame, not a neighbour: objects move, so other frames differ more.
        for j in [i.saturating_sub(5), (i + 5).min(35)] {
            if j != i {
                assert!(
                    own < mean_abs_diff(&f.image, &v.frames[j]),
                    "frame {i} looks like frame {j}"
                );
            }
        }
    }
}

#[test]
fn not_a_video_is_refused() {
    let mut png = Vec::new();
    let img = RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]));
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    assert!(matches!(
        decode_mp4(&png, &mut no_progress()),
        Err(VideoError::NotAVideo(_))
    ));
    assert!(matches!(probe(b"hello"), Err(VideoError::NotAVideo(_))));
}

#[test]
fn a_truncated_mp4_is_refused() {
    let (_, mp4) = clip();
    for cut in [mp4.len() / 2, mp4.len() - 10, 40] {
        let err = decode_mp4(&mp4[..cut], &mut no_progress()).expect_err("truncated");
        assert!(
            matches!(err, VideoError::Truncated(_)),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn another_codec_is_named_in_the_error() {
    let (_, mut mp4) = clip();
    // The sample entry inside `stsd` (the brands in `ftyp` may name avc1 too).
    let stsd = mp4.windows(4).position(|w| w == b"stsd").expect("stsd");
    let at = stsd
        + mp4[stsd..]
            .windows(4)
            .position(|w| w == b"avc1")
            .expect("sample entry");
    mp4[at..at + 4].copy_from_slice(b"hvc1");
    match decode_mp4(&mp4, &mut no_progress()) {
        Err(VideoError::UnsupportedCodec(codec)) => assert_eq!(codec, "hvc1"),
        other => panic!("{:?}", other.map(|f| f.len())),
    }
}

#[test]
fn decoding_stops_when_the_progress_callback_cancels() {
    let (_, mp4) = clip();
    let mut seen = 0;
    let mut cancel_at_ten = |_: &str, _: f64| {
        seen += 1;
        seen < 10
    };
    assert!(matches!(
        decode_mp4(&mp4, &mut cancel_at_ten),
        Err(VideoError::Canceled)
    ));
    assert_eq!(seen, 10);
}

#[test]
fn synthetic_images_survive_png_encoding_with_their_boxes() {
    let (img, objects) = synth::image(&SynthParams {
        objects: 4,
        seed: 9,
        ..SynthParams::default()
    });
    assert_eq!(objects.len(), 4);
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    let back = image::load_from_memory(&png).expect("decode").to_rgb8();
    assert_eq!(back, img);
    for o in &objects {
        assert!(o.bbox.inside(img.width(), img.height()) && o.bbox.is_proper());
    }
}
