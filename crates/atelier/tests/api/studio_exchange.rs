//! The detector studio's exchange with other tools, over HTTP: a project's export in each of the
//! five formats holds exactly the boxes the server shows on every frame; each export imported
//! into a fresh media of the same clip gives the same boxes back (one undoable batch); refused
//! imports change nothing; and a client at version `v` catches up with `annotations/since/{v}`.

use std::{
    collections::HashMap,
    io::{Read, Write},
};

use atelier_detector::{
    Annotations, Frame,
    annotation::video_frame_name,
    formats::{ExportFile, coco, cvat_images, cvat_video, voc, yolo},
};
use reqwest::{StatusCode, multipart};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, error_code, spawn_app};
use crate::studio::{clip, import, json_of, mp4, project, track_ops};

const FORMATS: [&str; 5] = ["cvat_video", "cvat_images", "coco", "yolo", "voc"];
const FRAMES: u32 = 24;

/// Per frame: (label name, box) of each box, sorted.
type FrameBoxes = Vec<Vec<(String, [f64; 4])>>;

fn sorted(mut boxes: Vec<(String, [f64; 4])>) -> Vec<(String, [f64; 4])> {
    boxes.sort_by(|a, b| a.0.cmp(&b.0).then(a.1[0].total_cmp(&b.1[0])));
    boxes
}

/// The visible boxes the server shows on every frame of a media (tracks outside there are listed
/// too, `outside: true`; they are no boxes of that frame).
async fn server_boxes(
    app: &TestApp,
    token: &str,
    mid: i64,
    names: &HashMap<i64, String>,
) -> FrameBoxes {
    let mut frames = Vec::new();
    for n in 0..FRAMES {
        let shown = json_of(
            app.get(
                token,
                &format!("/api/v1/studio/media/{mid}/annotations?frame={n}"),
            )
            .await,
            StatusCode::OK,
        )
        .await;
        let boxes = shown["boxes"]
            .as_array()
            .expect("boxes")
            .iter()
            .filter(|b| b["outside"] != true)
            .map(|b| {
                let label = names[&b["label_id"].as_i64().expect("label")].clone();
                let coords: Vec<f64> = b["box"]
                    .as_array()
                    .expect("box")
                    .iter()
                    .map(|v| v.as_f64().expect("coordinate"))
                    .collect();
                (label, [coords[0], coords[1], coords[2], coords[3]])
            })
            .collect();
        frames.push(sorted(boxes));
    }
    frames
}

/// The boxes a parsed file puts on every frame (frames matched by name, `frame_000012` → 12).
fn file_boxes(doc: &Annotations) -> FrameBoxes {
    let mut frames = vec![Vec::new(); FRAMES as usize];
    for (index, frame) in doc.frames.iter().enumerate() {
        let stem = frame.name.rsplit('/').next().unwrap_or(&frame.name);
        let stem = stem.split('.').next().unwrap_or(stem);
        let number: usize = stem
            .trim_start_matches("frame_")
            .parse()
            .unwrap_or_else(|_| panic!("frame name {:?}", frame.name));
        frames[number] = sorted(
            doc.boxes_on(index as u32)
                .into_iter()
                .map(|b| (b.label, [b.bbox.xtl, b.bbox.ytl, b.bbox.xbr, b.bbox.ybr]))
                .collect(),
        );
    }
    frames
}

fn assert_same(got: &FrameBoxes, want: &FrameBoxes, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: frame count");
    for (n, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            g.len(),
            w.len(),
            "{what}: boxes on frame {n}: {g:?} vs {w:?}"
        );
        for (a, b) in g.iter().zip(w) {
            assert_eq!(a.0, b.0, "{what}: label on frame {n}");
            assert!(
                a.1.iter().zip(&b.1).all(|(x, y)| (x - y).abs() < 1e-6),
                "{what}: frame {n}: {:?} vs {:?}",
                a.1,
                b.1
            );
        }
    }
}

fn unzip(bytes: &[u8]) -> Vec<ExportFile> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).expect("entry");
            let mut contents = Vec::new();
            file.read_to_end(&mut contents).expect("read");
            ExportFile {
                path: file.name().expect("name").into_owned(),
                bytes: contents,
            }
        })
        .collect()
}

fn zip_of(files: &[ExportFile]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for file in files {
        zip.start_file(&file.path, zip::write::SimpleFileOptions::default())
            .expect("start");
        zip.write_all(&file.bytes).expect("write");
    }
    zip.finish().expect("finish").into_inner()
}

fn text(files: &[ExportFile], path: &str) -> String {
    let file = files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no {path} in {:?}", paths(files)));
    String::from_utf8(file.bytes.clone()).expect("utf-8")
}

fn paths(files: &[ExportFile]) -> Vec<&str> {
    files.iter().map(|f| f.path.as_str()).collect()
}

/// Parses one media's folder of an export.
fn parse_export(format: &str, files: &[ExportFile], mid: i64) -> Annotations {
    let prefix = format!("media-{mid}/");
    let folder: Vec<ExportFile> = files
        .iter()
        .filter_map(|f| {
            f.path.strip_prefix(&prefix).map(|p| ExportFile {
                path: p.to_owned(),
                bytes: f.bytes.clone(),
            })
        })
        .collect();
    assert!(
        !folder.is_empty(),
        "{format}: no {prefix} in {:?}",
        paths(files)
    );
    let frames: Vec<Frame> = (0..FRAMES)
        .map(|n| Frame {
            name: video_frame_name(n),
            width: 320,
            height: 240,
        })
        .collect();
    match format {
        "cvat_video" => cvat_video::read(&text(&folder, "annotations.xml")),
        "cvat_images" => cvat_images::read(&text(&folder, "annotations.xml")),
        "coco" => coco::read(&text(&folder, "annotations/instances_default.json")),
        "yolo" => yolo::read(&folder, &frames),
        _ => voc::read(&folder),
    }
    .unwrap_or_else(|err| panic!("{format}: {err}"))
}

async fn export(app: &TestApp, token: &str, pid: i64, format: &str) -> Vec<u8> {
    let response = app
        .get(
            token,
            &format!("/api/v1/studio/projects/{pid}/export?format={format}"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{format}");
    assert_eq!(response.headers()["content-type"], "application/zip");
    response.bytes().await.expect("zip").to_vec()
}

async fn import_file(
    app: &TestApp,
    token: &str,
    mid: i64,
    format: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let part = multipart::Part::bytes(bytes).file_name("annotations");
    app.client
        .post(app.url(&format!(
            "/api/v1/studio/media/{mid}/annotations/import?format={format}"
        )))
        .bearer_auth(token)
        .multipart(multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("import")
}

async fn version_of(app: &TestApp, token: &str, mid: i64) -> Value {
    json_of(
        app.get(token, &format!("/api/v1/studio/media/{mid}/annotations"))
            .await,
        StatusCode::OK,
    )
    .await
}

/// Tracks as the server shows them, without ids.
fn tracks_without_ids(annotations: &Value) -> Vec<Value> {
    let mut tracks: Vec<Value> = annotations["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .map(|t| json!({"label_id": t["label_id"], "keyframes": t["keyframes"]}))
        .collect();
    tracks.sort_by_key(|t| t.to_string());
    tracks
}

async fn exports_hold_every_box_and_import_back_into_a_fresh_media_as_one_undoable_batch(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let stranger = app.user().await;
    let (pid, labels) = project(&app, &token).await;
    let names: HashMap<i64, String> = labels
        .iter()
        .zip(atelier_detector::synth::CLASSES)
        .map(|(id, name)| (*id, name.to_owned()))
        .collect();
    let video = clip(5);
    let bytes = mp4(&video);
    let media = import(&app, &token, pid, bytes.clone(), "clip.mp4").await;
    let mid = media["id"].as_i64().expect("id");
    let mut ops = track_ops(&video, &labels);
    ops.push(
        json!({"op": "put_shape", "shape": {"frame": 3, "label_id": labels[1],
                    "box": [10.5, 20.25, 60.0, 70.0], "occluded": true}}),
    );
    json_of(
        app.post_json(
            &token,
            &format!("/api/v1/studio/media/{mid}/annotations"),
            json!({"base_version": 0, "ops": ops}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let want = server_boxes(&app, &token, mid, &names).await;
    assert!(
        want.iter().filter(|f| !f.is_empty()).count() > 10,
        "the clip's tracks cover most frames: {want:?}"
    );

    // Every export holds the boxes of every frame, labels by name.
    let mut exports = HashMap::new();
    for format in FORMATS {
        let zip = export(&app, &token, pid, format).await;
        let doc = parse_export(format, &unzip(&zip), mid);
        assert_same(&file_boxes(&doc), &want, format);
        exports.insert(format, zip);
    }
    let original = version_of(&app, &token, mid).await;
    let video_doc = parse_export("cvat_video", &unzip(&exports["cvat_video"]), mid);
    assert_eq!(video_doc.tracks.len() + video_doc.shapes.len(), 3);

    // A fresh media of the same clip takes each export back (CVAT XML bare, the rest zipped).
    let fresh = import(&app, &token, pid, bytes, "again.mp4").await;
    let fid = fresh["id"].as_i64().expect("id");
    let xml = text(
        &unzip(&exports["cvat_video"]),
        &format!("media-{mid}/annotations.xml"),
    );
    let imported = json_of(
        import_file(&app, &token, fid, "cvat_video", xml.clone().into_bytes()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(imported["version"], 1);
    assert_same(
        &server_boxes(&app, &token, fid, &names).await,
        &want,
        "cvat_video import",
    );
    let again = version_of(&app, &token, fid).await;
    // CVAT for video carries the shape as a track (visible on its frame, outside after it).
    assert_eq!(again["shapes"], json!([]));
    assert_eq!(again["tracks"].as_array().map(Vec::len), Some(3));
    for track in &tracks_without_ids(&original) {
        assert!(
            tracks_without_ids(&again).contains(track),
            "track {track} comes back with its key frames"
        );
    }
    // One undo takes the whole import back; redo replays it.
    let path = format!("/api/v1/studio/media/{fid}/annotations");
    json_of(
        app.post_json(&token, &format!("{path}/undo"), json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let undone = version_of(&app, &token, fid).await;
    assert_eq!(
        (undone["shapes"].clone(), undone["tracks"].clone()),
        (json!([]), json!([]))
    );
    json_of(
        app.post_json(&token, &format!("{path}/redo"), json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_same(
        &server_boxes(&app, &token, fid, &names).await,
        &want,
        "redo",
    );
    for format in ["cvat_images", "coco", "yolo", "voc"] {
        let before = version_of(&app, &token, fid).await["version"]
            .as_u64()
            .expect("version");
        let imported = json_of(
            import_file(&app, &token, fid, format, exports[format].clone()).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(imported["version"], before + 1, "{format}: one batch");
        assert_same(
            &server_boxes(&app, &token, fid, &names).await,
            &want,
            &format!("{format} import"),
        );
    }

    // Refusals change nothing: a label the project lacks, a bad format, garbage, a stranger.
    let before = version_of(&app, &token, fid).await;
    // Rename the label of the first track (a label the file only declares is not needed).
    let used = xml
        .split("label=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a track's label");
    let renamed = xml
        .replace(&format!("<name>{used}</name>"), "<name>saucer</name>")
        .replace(&format!("label=\"{used}\""), "label=\"saucer\"");
    let refused = import_file(&app, &token, fid, "cvat_video", renamed.into_bytes()).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(refused).await, "unknown_label");
    let refused = import_file(&app, &token, fid, "labelme", xml.clone().into_bytes()).await;
    assert_eq!(error_code(refused).await, "unknown_format");
    let refused = import_file(&app, &token, fid, "coco", b"{not json".to_vec()).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(refused).await, "bad_annotation_file");
    let refused = import_file(&app, &token, fid, "yolo", zip_of(&[])).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = import_file(&app, &stranger, fid, "cvat_video", xml.into_bytes()).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert_eq!(version_of(&app, &token, fid).await, before);
    app.stop().await;
}

crate::on_both_backends!(
    exports_hold_every_box_and_import_back_into_a_fresh_media_as_one_undoable_batch
);

async fn a_client_catches_up_with_the_batches_since_its_version(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let stranger = app.user().await;
    let (pid, labels) = project(&app, &token).await;
    let video = clip(7);
    let media = import(&app, &token, pid, mp4(&video), "clip.mp4").await;
    let mid = media["id"].as_i64().expect("id");
    let path = format!("/api/v1/studio/media/{mid}/annotations");
    let since = |v: u64| format!("{path}/since/{v}");

    let empty = json_of(app.get(&token, &since(0)).await, StatusCode::OK).await;
    assert_eq!(empty, json!({"version": 0, "batches": []}));

    let track = json!({"label_id": labels[0], "keyframes": [
        {"frame": 0, "box": [10.0, 10.0, 50.0, 50.0], "outside": false, "occluded": false},
        {"frame": 8, "box": [90.0, 30.0, 130.0, 70.0], "outside": false, "occluded": true}]});
    for (base, op) in [
        (0, json!({"op": "put_track", "track": track})),
        (
            1,
            json!({"op": "put_shape", "shape": {"frame": 2, "label_id": labels[1],
                   "box": [1.0, 2.0, 30.0, 40.0]}}),
        ),
    ] {
        json_of(
            app.post_json(&token, &path, json!({"base_version": base, "ops": [op]}))
                .await,
            StatusCode::OK,
        )
        .await;
    }
    json_of(
        app.post_json(&token, &format!("{path}/undo"), json!({}))
            .await,
        StatusCode::OK,
    )
    .await;

    let all = json_of(app.get(&token, &since(0)).await, StatusCode::OK).await;
    assert_eq!(all["version"], 3);
    let batches = all["batches"].as_array().expect("batches");
    let versions: Vec<&Value> = batches.iter().map(|b| &b["version"]).collect();
    assert_eq!(versions, [&json!(1), &json!(2), &json!(3)]);
    let kinds: Vec<&Value> = batches.iter().map(|b| &b["kind"]).collect();
    assert_eq!(kinds, [&json!("edit"), &json!("edit"), &json!("undo")]);
    // Operations come back as the API writes them, ids assigned.
    let put = &batches[0]["ops"][0];
    assert_eq!(put["op"], "put_track");
    assert_eq!(put["track"]["id"], 1);
    assert_eq!(put["track"]["keyframes"], track["keyframes"]);
    let shape = &batches[1]["ops"][0];
    assert_eq!(shape["op"], "put_shape");
    assert_eq!(shape["shape"]["box"], json!([1.0, 2.0, 30.0, 40.0]));
    assert_eq!(
        batches[2]["ops"],
        json!([{"op": "delete_shape", "id": shape["shape"]["id"]}]),
        "the undo is the inverse edit"
    );

    let later = json_of(app.get(&token, &since(2)).await, StatusCode::OK).await;
    assert_eq!(later["batches"].as_array().map(Vec::len), Some(1));
    let latest = json_of(app.get(&token, &since(3)).await, StatusCode::OK).await;
    assert_eq!(latest, json!({"version": 3, "batches": []}));
    let future = app.get(&token, &since(4)).await;
    assert_eq!(future.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(future).await, "unknown_version");
    assert_eq!(
        app.get(&stranger, &since(0)).await.status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

crate::on_both_backends!(a_client_catches_up_with_the_batches_since_its_version);
