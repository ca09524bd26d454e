//! Studio media beyond the H.264 Baseline MP4, over HTTP: zips of images (frames in natural
//! name order, furniture skipped, bad archives failing with the entry named and no frames
//! kept), videos only ffmpeg reads (High-profile H.264, VP9 WebM, MJPEG AVI made here with the
//! ffmpeg CLI) decoded through it, a Baseline MP4 that OpenH264 fails on after storing frames
//! started over through ffmpeg, the same refused with 415 on a server without ffmpeg; and
//! `?frame=N` listing the tracks outside on that frame.
//!
//! ffmpeg is needed to make the videos; without it these tests skip, except under
//! `ATELIER_REQUIRE_FFPROBE=1` (CI installs ffmpeg and sets it), where its absence fails them.

use std::{io::Write, process::Command};

use image::{ImageFormat, Rgb, RgbImage};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    helpers::{AppOptions, Backend, TestApp, spawn_app, spawn_app_with},
    studio::{WAIT, clip, import, json_of, mp4, project},
};

/// Whether the ffmpeg CLI runs; when `ATELIER_REQUIRE_FFPROBE=1` its absence fails the test.
fn ffmpeg_available() -> bool {
    let present = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present && std::env::var("ATELIER_REQUIRE_FFPROBE").as_deref() == Ok("1") {
        panic!("ATELIER_REQUIRE_FFPROBE=1 but ffmpeg is not installed (apt-get install ffmpeg)");
    }
    if !present {
        eprintln!("ffmpeg not installed: skipping");
    }
    present
}

/// `frames` encoded at 12 fps by the ffmpeg CLI with `codec_args`, into a file named `name`.
fn ffmpeg_encode(frames: &[RgbImage], name: &str, codec_args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tmp");
    for (n, frame) in frames.iter().enumerate() {
        frame
            .save_with_format(dir.path().join(format!("f{n:03}.png")), ImageFormat::Png)
            .expect("png");
    }
    let out = dir.path().join(name);
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(["-framerate", "12", "-i"])
        .arg(dir.path().join("f%03d.png"))
        .args(codec_args)
        .arg(&out)
        .status()
        .expect("ffmpeg");
    assert!(status.success(), "ffmpeg could not make {name}");
    std::fs::read(&out).expect("read")
}

/// An H.264 High-profile MP4 (with B-frames: pictures out of decoding order).
fn high_profile_mp4(frames: &[RgbImage]) -> Vec<u8> {
    ffmpeg_encode(
        frames,
        "high.mp4",
        &[
            "-c:v",
            "libx264",
            "-profile:v",
            "high",
            "-pix_fmt",
            "yuv420p",
            "-bf",
            "2",
            "-crf",
            "18",
        ],
    )
}

fn solid(width: u32, height: u32, rgb: [u8; 3]) -> RgbImage {
    RgbImage::from_pixel(width, height, Rgb(rgb))
}

fn encoded(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("start");
        zip.write_all(bytes).expect("write");
    }
    zip.finish().expect("finish").into_inner()
}

/// A frame of a media, decoded.
async fn frame(app: &TestApp, token: &str, mid: i64, n: usize) -> RgbImage {
    let response = app
        .get(token, &format!("/api/v1/studio/media/{mid}/frames/{n}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.bytes().await.expect("bytes");
    image::load_from_memory(&bytes).expect("jpeg").into_rgb8()
}

fn mean_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| f64::from(x.abs_diff(*y)))
        .sum::<f64>()
        / a.as_raw().len() as f64
}

/// The mean colour of an image.
fn mean_rgb(image: &RgbImage) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for p in image.pixels() {
        for (total, value) in sum.iter_mut().zip(p.0) {
            *total += f64::from(value);
        }
    }
    let n = f64::from(image.width() * image.height());
    sum.map(|s| s / n)
}

/// Uploads `bytes`, adds it to the project, waits for the import; returns (media, job).
async fn import_any(
    app: &TestApp,
    token: &str,
    pid: i64,
    bytes: Vec<u8>,
    name: &str,
) -> (Value, Value) {
    let upload = json_of(app.upload(token, bytes, name).await, StatusCode::CREATED).await;
    let media = crate::studio::add_media(app, token, pid, &upload).await;
    let job = app
        .wait_job(token, media["job_id"].as_str().expect("job"), WAIT, |j| {
            !matches!(j["status"].as_str(), Some("queued" | "running"))
        })
        .await;
    let mid = media["id"].as_i64().expect("id");
    let media = json_of(
        app.get(token, &format!("/api/v1/studio/media/{mid}")).await,
        StatusCode::OK,
    )
    .await;
    (media, job)
}

/// The media's frame list.
async fn frames(app: &TestApp, token: &str, mid: i64) -> Vec<Value> {
    json_of(
        app.get(token, &format!("/api/v1/studio/media/{mid}/frames"))
            .await,
        StatusCode::OK,
    )
    .await["frames"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn a_zip_of_images_imports_as_frames_in_natural_name_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let (pid, _) = project(&app, &token).await;
    let (red, green, blue) = ([220, 30, 30], [30, 200, 40], [40, 50, 230]);
    let zip = zip_of(&[
        (
            "shots/img10.png",
            encoded(&solid(64, 48, blue), ImageFormat::Png),
        ),
        (
            "__MACOSX/shots/._img10.png",
            b"\x00\x05\x16\x07 resource fork".to_vec(),
        ),
        ("shots/notes.txt", b"taken on a Tuesday".to_vec()),
        (
            "shots/img2.jpg",
            encoded(&solid(64, 48, green), ImageFormat::Jpeg),
        ),
        (
            "shots/img1.png",
            encoded(&solid(64, 48, red), ImageFormat::Png),
        ),
    ]);
    let (media, job) = import_any(&app, &token, pid, zip, "shots.zip").await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["output"]["decoder"], "zip");
    assert_eq!(media["kind"], "images");
    assert_eq!(media["status"], "ready");
    assert_eq!(
        media["frame_count"], 3,
        "the text and the resource fork are skipped"
    );
    assert_eq!(
        (media["width"].as_i64(), media["height"].as_i64()),
        (Some(64), Some(48))
    );
    let mid = media["id"].as_i64().expect("id");
    assert_eq!(frames(&app, &token, mid).await.len(), 3);
    for (n, want) in [red, green, blue].into_iter().enumerate() {
        let got = frame(&app, &token, mid, n).await;
        assert_eq!(got.dimensions(), (64, 48));
        let mean = mean_rgb(&got);
        assert!(
            mean.iter()
                .zip(want)
                .all(|(got, want)| (got - f64::from(want)).abs() < 8.0),
            "frame {n} is {mean:?}, not {want:?}: img1, img2, img10 in that order"
        );
    }
    // The frames carry the entries' names (CVAT for images exports them).
    let export = app
        .get(
            &token,
            &format!("/api/v1/studio/projects/{pid}/export?format=cvat_images"),
        )
        .await;
    assert_eq!(export.status(), StatusCode::OK);
    let bytes = export.bytes().await.expect("zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("zip");
    let mut xml = String::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).expect("entry");
        if file.name().is_ok_and(|n| n.ends_with(".xml")) {
            std::io::Read::read_to_string(&mut file, &mut xml).expect("xml");
        }
    }
    let (a, b) = (
        xml.find("shots/img2.jpg").expect("img2 named"),
        xml.find("shots/img10.png").expect("img10 named"),
    );
    assert!(a < b, "img2 before img10");
    app.stop().await;
}

crate::on_both_backends!(a_zip_of_images_imports_as_frames_in_natural_name_order);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_zips_fail_with_the_reason_named_and_keep_no_frames() {
    let app = spawn_app(Backend::Embedded).await;
    let token = app.user().await;
    let (pid, _) = project(&app, &token).await;
    let good = encoded(&solid(32, 32, [10, 20, 30]), ImageFormat::Png);
    let mut corrupt = good.clone();
    corrupt.truncate(40);
    let cases = [
        (
            zip_of(&[("readme.txt", b"no pictures".to_vec())]),
            "no_images",
            "no images",
        ),
        (
            // a.png is stored before b.png fails: it must not stay.
            zip_of(&[("a.png", good.clone()), ("b.png", corrupt)]),
            "bad_image",
            "b.png",
        ),
        (
            zip_of(&[
                ("a.png", good.clone()),
                (
                    "b.png",
                    encoded(&solid(48, 32, [1, 2, 3]), ImageFormat::Png),
                ),
            ]),
            "mixed_image_sizes",
            "b.png is 48x32 but a.png is 32x32",
        ),
    ];
    for (zip, code, says) in cases {
        let (media, job) = import_any(&app, &token, pid, zip, "bad.zip").await;
        assert_eq!(job["status"], "failed", "{job}");
        assert_eq!(job["error"]["code"], code, "{job}");
        assert_eq!(media["status"], "failed");
        let error = media["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{code}: {error}");
        let mid = media["id"].as_i64().expect("id");
        assert!(
            frames(&app, &token, mid).await.is_empty(),
            "{code}: frames kept"
        );
        let first = app
            .get(&token, &format!("/api/v1/studio/media/{mid}/frames/0"))
            .await;
        assert_eq!(
            first.status(),
            StatusCode::NOT_FOUND,
            "{code}: frame 0 kept"
        );
    }
    // Not a zip at all past its first bytes: refused at upload.
    let garbage = app
        .upload(&token, b"PK\x03\x04 and then nothing".to_vec(), "cut.zip")
        .await;
    assert_eq!(garbage.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn videos_only_ffmpeg_reads_import_through_it_with_their_frames_and_times() {
    if !ffmpeg_available() {
        return;
    }
    let app = spawn_app(Backend::Embedded).await;
    let token = app.user().await;
    let (pid, _) = project(&app, &token).await;
    let video = clip(11);
    let cases = [
        ("high.mp4", high_profile_mp4(&video.frames), 14.0),
        (
            "clip.webm",
            ffmpeg_encode(
                &video.frames,
                "clip.webm",
                &[
                    "-c:v",
                    "libvpx-vp9",
                    "-b:v",
                    "0",
                    "-crf",
                    "20",
                    "-deadline",
                    "realtime",
                ],
            ),
            14.0,
        ),
        (
            "clip.avi",
            ffmpeg_encode(&video.frames, "clip.avi", &["-c:v", "mjpeg", "-q:v", "3"]),
            14.0,
        ),
    ];
    for (name, bytes, tolerance) in cases {
        let (media, job) = import_any(&app, &token, pid, bytes, name).await;
        assert_eq!(job["status"], "succeeded", "{name}: {job} {media}");
        assert_eq!(job["output"]["decoder"], "ffmpeg", "{name}");
        assert_eq!(media["kind"], "video");
        assert_eq!(media["frame_count"], 24, "{name}");
        assert_eq!(
            (media["width"].as_i64(), media["height"].as_i64()),
            (Some(320), Some(240)),
            "{name}"
        );
        assert!(
            (media["fps"].as_f64().unwrap_or(0.0) - 12.0).abs() < 0.6,
            "{name}: {media}"
        );
        let mid = media["id"].as_i64().expect("id");
        let list = frames(&app, &token, mid).await;
        assert_eq!(list.len(), 24);
        assert_eq!(list[0]["timestamp_ms"], 0, "{name}");
        assert_eq!(list[6]["timestamp_ms"], 500, "{name}: frame 6 at 0.5 s");
        // Frames come in presentation order: each is closest to its own source frame.
        for n in [5, 6, 17] {
            let got = frame(&app, &token, mid, n).await;
            let own = mean_diff(&got, &video.frames[n]);
            assert!(own < tolerance, "{name} frame {n} differs by {own}");
            for other in [n - 1, n + 1] {
                assert!(
                    own < mean_diff(&got, &video.frames[other]),
                    "{name}: frame {n} looks more like frame {other}"
                );
            }
        }
    }
    // atelier's own (Baseline) MP4 still decodes in-process.
    let (_, job) = import_any(&app, &token, pid, mp4(&video), "baseline.mp4").await;
    assert_eq!(job["output"]["decoder"], "in-process", "{job}");
    app.stop().await;
}

/// atelier's own Baseline MP4 of `video` whose last sample's NAL units are of a reserved type
/// (23): OpenH264 makes no picture of it, which it finds only after every other picture.
fn mp4_with_an_undecodable_last_sample(video: &atelier_detector::synth::SynthVideo) -> Vec<u8> {
    let mut bytes = mp4(video);
    let track = atelier_imaging::animation::demux_mp4(&bytes).expect("demux");
    let last = &track.samples.last().expect("samples").data;
    let at = bytes
        .windows(last.len())
        .position(|w| w == last.as_slice())
        .expect("the last sample in the file");
    let width = usize::from(track.nal_length_size);
    let mut nal = at;
    while nal < at + last.len() {
        let length = bytes[nal..nal + width]
            .iter()
            .fold(0usize, |n, &b| n << 8 | usize::from(b));
        bytes[nal + width] = (bytes[nal + width] & 0xE0) | 23;
        nal += width + length;
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_openh264_fails_on_after_storing_frames_starts_over_through_ffmpeg_keeping_each_frame_once()
 {
    if !ffmpeg_available() {
        return;
    }
    let app = spawn_app(Backend::Embedded).await;
    let token = app.user().await;
    let (pid, _) = project(&app, &token).await;
    let video = clip(17);
    let samples = video.frames.len();
    let (media, job) = import_any(
        &app,
        &token,
        pid,
        mp4_with_an_undecodable_last_sample(&video),
        "broken-tail.mp4",
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job} {media}");
    assert_eq!(job["output"]["decoder"], "ffmpeg", "{job}");
    // The in-process attempt had stored every picture but the last; the restart cleared them,
    // so each frame ffmpeg reads is there once, with its own time.
    assert_eq!(media["frame_count"], samples - 1, "{media}");
    let mid = media["id"].as_i64().expect("id");
    let list = frames(&app, &token, mid).await;
    assert_eq!(list.len(), samples - 1);
    for (n, entry) in list.iter().enumerate() {
        assert_eq!(entry["number"], n, "{entry}");
        let expected = (n as f64 * 1000.0 / 12.0).round() as i64;
        let at = entry["timestamp_ms"].as_i64().expect("timestamp");
        assert!((at - expected).abs() <= 1, "frame {n} at {at} ms");
    }
    for n in [0, 11, samples - 2] {
        let got = frame(&app, &token, mid, n).await;
        let own = mean_diff(&got, &video.frames[n]);
        let next = mean_diff(&got, &video.frames[n + 1]);
        assert!(own < next, "frame {n}: {own} against the next one's {next}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_ffmpeg_other_videos_are_refused_with_415_naming_what_is_accepted() {
    if !ffmpeg_available() {
        return;
    }
    let missing = "/nonexistent/bin/ffmpeg".to_owned();
    let app = spawn_app_with(
        Backend::Embedded,
        AppOptions {
            tweak: Box::new(move |config| config.studio.ffmpeg = missing),
            ..AppOptions::default()
        },
    )
    .await;
    let token = app.user().await;
    let (pid, _) = project(&app, &token).await;
    let video = clip(13);
    let webm = ffmpeg_encode(
        &video.frames[..6],
        "short.webm",
        &["-c:v", "libvpx-vp9", "-deadline", "realtime"],
    );
    for (name, bytes, names) in [
        ("short.webm", webm, "WEBM"),
        ("high.mp4", high_profile_mp4(&video.frames[..6]), "High"),
    ] {
        let upload = json_of(app.upload(&token, bytes, name).await, StatusCode::CREATED).await;
        let response = app
            .post_json(
                &token,
                &format!("/api/v1/studio/projects/{pid}/media"),
                json!({"upload_id": upload["id"]}),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{name}"
        );
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "unsupported_video", "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        for word in [
            names,
            "ffmpeg",
            "H.264 MP4 in the Baseline profile",
            "zip of images",
        ] {
            assert!(message.contains(word), "{name}: {message:?} lacks {word:?}");
        }
    }
    // What needs no ffmpeg still imports.
    let media = import(&app, &token, pid, mp4(&video), "clip.mp4").await;
    assert_eq!(media["frame_count"], 24);
    let shown = json_of(
        app.get(&token, &format!("/api/v1/studio/projects/{pid}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["media_count"], 1, "the refused videos added nothing");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_lists_the_tracks_outside_on_it_apart_from_the_visible_boxes() {
    let app = spawn_app(Backend::Embedded).await;
    let token = app.user().await;
    let (pid, labels) = project(&app, &token).await;
    let media = import(&app, &token, pid, mp4(&clip(17)), "clip.mp4").await;
    let mid = media["id"].as_i64().expect("id");
    let path = format!("/api/v1/studio/media/{mid}/annotations");
    let batch = json!({"base_version": 0, "ops": [
        {"op": "put_track", "track": {"id": 1, "label_id": labels[0], "keyframes": [
            {"frame": 0, "box": [10.0, 20.0, 50.0, 60.0]},
            {"frame": 6, "box": [70.0, 20.0, 110.0, 60.0], "outside": true},
            {"frame": 12, "box": [100.0, 100.0, 140.0, 140.0]}]}},
        {"op": "put_shape", "shape": {"id": 2, "frame": 8, "label_id": labels[1], "box": [200.0, 100.0, 240.0, 150.0]}}
    ]});
    json_of(app.post_json(&token, &path, batch).await, StatusCode::OK).await;
    let on = |n: u32| {
        let (app, token, path) = (&app, &token, &path);
        async move {
            json_of(
                app.get(token, &format!("{path}?frame={n}")).await,
                StatusCode::OK,
            )
            .await["boxes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
    };
    let visible = on(3).await;
    assert_eq!(visible.len(), 1);
    assert_eq!(visible[0]["outside"], false);
    assert_eq!(
        visible[0]["box"],
        json!([40.0, 20.0, 80.0, 60.0]),
        "interpolated"
    );
    let outside_key = on(6).await;
    assert_eq!(outside_key.len(), 1);
    assert_eq!(
        (&outside_key[0]["outside"], &outside_key[0]["keyframe"]),
        (&json!(true), &json!(true))
    );
    let later = on(8).await;
    assert_eq!(
        later.len(),
        2,
        "the shape, then the hidden track: {later:?}"
    );
    assert_eq!(
        (&later[0]["source"], &later[0]["outside"]),
        (&json!("shape"), &json!(false))
    );
    assert_eq!(later[1]["source"], "track");
    assert_eq!(later[1]["id"], 1);
    assert_eq!(later[1]["outside"], true);
    assert_eq!(later[1]["keyframe"], false);
    assert_eq!(
        later[1]["box"],
        json!([70.0, 20.0, 110.0, 60.0]),
        "the box it keeps"
    );
    assert_eq!(on(12).await[0]["outside"], false, "back in view");
    // What reads visible boxes is unchanged: the hidden frames are not annotated ones.
    let list = frames(&app, &token, mid).await;
    assert_eq!(list[0]["annotated"], true);
    assert_eq!(list[6]["annotated"], false);
    assert_eq!(list[9]["annotated"], false);
    let export = app
        .get(
            &token,
            &format!("/api/v1/studio/projects/{pid}/export?format=coco"),
        )
        .await;
    assert_eq!(export.status(), StatusCode::OK);
    let bytes = export.bytes().await.expect("zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("zip");
    let mut coco = String::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).expect("entry");
        if file.name().is_ok_and(|n| n.ends_with(".json")) {
            std::io::Read::read_to_string(&mut file, &mut coco).expect("json");
        }
    }
    let coco: Value = serde_json::from_str(&coco).expect("coco");
    let annotations = coco["annotations"].as_array().expect("annotations");
    // Frames 0–5 and 12–23 carry the track, frame 8 the shape: 6 + 12 + 1 boxes.
    assert_eq!(
        annotations.len(),
        19,
        "no box of the hidden frames is exported"
    );
    app.stop().await;
}
