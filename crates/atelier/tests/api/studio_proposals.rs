//! Assisted annotation and fine-tuning over HTTP: a trained detector auto-annotates a clip's
//! frames that carry no box, its proposals are accepted (a shape, undoable) or rejected (not
//! proposed again), bad requests are refused with their codes, nobody else reaches any of it;
//! and a second training fine-tunes from the first detector, with a label added since.

use atelier_detector::BBox;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, error_code, spawn_app};
use crate::studio::{WAIT, import, json_of, mp4, png, project, trained_project};

fn bbox_of(value: &Value) -> BBox {
    let n = |i: usize| value[i].as_f64().expect("coordinate");
    BBox::new(n(0), n(1), n(2), n(3))
}

async fn proposals(app: &TestApp, token: &str, mid: i64, frame: Option<u32>) -> Vec<Value> {
    let query = frame.map(|f| format!("?frame={f}")).unwrap_or_default();
    let list = json_of(
        app.get(
            token,
            &format!("/api/v1/studio/media/{mid}/proposals{query}"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    list["proposals"].as_array().expect("proposals").clone()
}

/// Accepts or rejects proposal `p` of media `mid` as `who`.
async fn decide(app: &TestApp, who: &str, mid: i64, p: &Value, what: &str) -> reqwest::Response {
    let id = p["id"].as_i64().expect("id");
    app.post_json(
        who,
        &format!("/api/v1/studio/media/{mid}/proposals/{id}/{what}"),
        json!({}),
    )
    .await
}

/// Runs an auto-annotation to its end; returns the job.
async fn auto_annotate(app: &TestApp, token: &str, mid: i64, body: Value) -> Value {
    let started = json_of(
        app.post_json(
            token,
            &format!("/api/v1/studio/media/{mid}/auto_annotate"),
            body,
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let job = app
        .wait_job(token, started["job_id"].as_str().expect("job"), WAIT, |j| {
            !matches!(j["status"].as_str(), Some("queued" | "running"))
        })
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    job
}

async fn auto_annotation_proposes_boxes_to_accept_or_reject_and_fine_tuning_starts_from_a_detector(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let (stranger, _) = app
        .register(
            &format!("stranger_{}", crate::helpers::random_suffix()),
            "Parent",
        )
        .await;
    let trained = trained_project(&app, &token).await;
    let (pid, did, video) = (trained.pid, trained.did, &trained.video);
    let labels = &trained.labels;

    // On the annotated clip a box is visible on every frame (tracks interpolate): nothing to do.
    let full = auto_annotate(&app, &token, trained.mid, json!({"detector_id": did})).await;
    assert_eq!(full["output"]["frames"], 0, "{full}");

    // The same clip again, unannotated but for one box drawn by hand on frame 0.
    let again = import(&app, &token, pid, mp4(video), "again.mp4").await;
    let mid = again["id"].as_i64().expect("media id");
    let drawn = json!({"op": "put_shape",
        "shape": {"frame": 0, "label_id": labels[0], "box": [10.0, 10.0, 40.0, 40.0]}});
    json_of(
        app.post_json(
            &token,
            &format!("/api/v1/studio/media/{mid}/annotations"),
            json!({"base_version": 0, "ops": [drawn]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    // Refusals.
    let path = format!("/api/v1/studio/media/{mid}/auto_annotate");
    let stranger_try = app
        .post_json(&stranger, &path, json!({"detector_id": did}))
        .await;
    assert_eq!(stranger_try.status(), StatusCode::NOT_FOUND);
    let missing = app
        .post_json(&token, &path, json!({"detector_id": did + 1000}))
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let bad_score = app
        .post_json(&token, &path, json!({"detector_id": did, "min_score": 1.5}))
        .await;
    assert_eq!(bad_score.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(bad_score).await, "invalid_min_score");
    let (other_pid, _) = project(&app, &token).await;
    let elsewhere = import(&app, &token, other_pid, png(&video.frames[0]), "f.png").await;
    let other = app
        .post_json(
            &token,
            &format!(
                "/api/v1/studio/media/{}/auto_annotate",
                elsewhere["id"].as_i64().expect("id")
            ),
            json!({"detector_id": did}),
        )
        .await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(other).await, "detector_of_another_project");

    // One run at a time per media, then its proposals: none where a box is drawn.
    let first = json_of(
        app.post_json(&token, &path, json!({"detector_id": did, "min_score": 0.2}))
            .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let twice = app
        .post_json(&token, &path, json!({"detector_id": did}))
        .await;
    assert_eq!(twice.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(twice).await, "auto_annotate_running");
    let job = app
        .wait_job(&token, first["job_id"].as_str().expect("job"), WAIT, |j| {
            !matches!(j["status"].as_str(), Some("queued" | "running"))
        })
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["output"]["frames"], 59, "every frame but the boxed one");
    assert!(proposals(&app, &token, mid, Some(0)).await.is_empty());
    let all = proposals(&app, &token, mid, None).await;
    assert_eq!(
        all.len() as i64,
        job["output"]["proposals"].as_i64().expect("count")
    );

    // Frame 8: the proposals are what the detector finds on the stored frame (the same boxes,
    // labels and scores as `POST /detect` answers), and each object's centre is in a proposal
    // of its label.
    let frame = 8u32;
    let on_frame = proposals(&app, &token, mid, Some(frame)).await;
    let stored = app
        .get(
            &token,
            &format!("/api/v1/studio/media/{mid}/frames/{frame}"),
        )
        .await
        .bytes()
        .await
        .expect("frame")
        .to_vec();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(stored).file_name("frame.jpg"),
    );
    let detected = app
        .client
        .post(app.url(&format!("/api/v1/detect?detector={did}&min_score=0.2")))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .expect("detect");
    let detected = json_of(detected, StatusCode::OK).await;
    let found = detected["boxes"].as_array().expect("boxes");
    assert!(on_frame.len() >= 2, "{on_frame:?}");
    assert_eq!(on_frame.len(), found.len(), "{on_frame:?} vs {detected}");
    for (p, d) in on_frame.iter().zip(found) {
        let b = bbox_of(&p["box"]);
        assert_eq!(p["label_id"], d["label_id"]);
        assert_eq!(p["detector_id"], did);
        let score = p["score"].as_f64().expect("score");
        assert!((score - d["score"].as_f64().expect("score")).abs() < 1e-5);
        assert!(score >= 0.2);
        let px = |v: &Value| v.as_f64().expect("px");
        assert!((b.xtl - px(&d["x"])).abs() <= 0.5 && (b.ytl - px(&d["y"])).abs() <= 0.5);
        assert!((b.width() - px(&d["width"])).abs() <= 0.5, "{p} vs {d}");
    }
    for (class, truth) in &video.truth[frame as usize] {
        let (cx, cy) = ((truth.xtl + truth.xbr) / 2.0, (truth.ytl + truth.ybr) / 2.0);
        assert!(
            on_frame.iter().any(|p| {
                let b = bbox_of(&p["box"]);
                p["label_id"] == labels[*class]
                    && (b.xtl..=b.xbr).contains(&cx)
                    && (b.ytl..=b.ybr).contains(&cy)
            }),
            "object {class} at {truth:?} not proposed: {on_frame:?}"
        );
    }
    let (accepted, rejected) = (&on_frame[0], &on_frame[1]);
    assert_eq!(
        decide(&app, &stranger, mid, accepted, "accept")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&stranger, &format!("/api/v1/studio/media/{mid}/proposals"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // Accepting adds the box as a shape, as one undoable edit; a second decision is refused.
    let before = json_of(
        app.get(
            &token,
            &format!("/api/v1/studio/media/{mid}/annotations?frame={frame}"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(before["boxes"].as_array().expect("boxes").is_empty());
    let done = json_of(
        decide(&app, &token, mid, accepted, "accept").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["proposal"]["status"], "accepted");
    assert_eq!(done["version"], before["version"].as_u64().expect("v") + 1);
    let after = json_of(
        app.get(
            &token,
            &format!("/api/v1/studio/media/{mid}/annotations?frame={frame}"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let boxes = after["boxes"].as_array().expect("boxes");
    assert_eq!(boxes.len(), 1, "{after}");
    assert_eq!(boxes[0]["id"], done["shape_id"]);
    assert_eq!(boxes[0]["label_id"], accepted["label_id"]);
    assert_eq!(boxes[0]["box"], accepted["box"]);
    let again = decide(&app, &token, mid, accepted, "reject").await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(again).await, "proposal_decided");
    let gone = json_of(
        decide(&app, &token, mid, rejected, "reject").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(gone["proposal"]["status"], "rejected");
    assert_eq!(gone["version"], Value::Null);
    let left = proposals(&app, &token, mid, Some(frame)).await;
    assert_eq!(left.len(), on_frame.len() - 2);
    assert!(
        left.iter()
            .all(|p| p["id"] != accepted["id"] && p["id"] != rejected["id"])
    );
    json_of(
        app.post_json(
            &token,
            &format!("/api/v1/studio/media/{mid}/annotations/undo"),
            json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    // A second run: frame 8 has no box again, so the accepted box comes back as a proposal;
    // the rejected one does not, and nothing is stored twice.
    let rerun = auto_annotate(
        &app,
        &token,
        mid,
        json!({"detector_id": did, "min_score": 0.2}),
    )
    .await;
    assert_eq!(rerun["output"]["frames"], 59);
    let renewed = proposals(&app, &token, mid, Some(frame)).await;
    let like_rejected = |p: &Value| {
        p["label_id"] == rejected["label_id"]
            && bbox_of(&p["box"]).iou(&bbox_of(&rejected["box"])) >= 0.5
    };
    let kept = on_frame.iter().filter(|p| !like_rejected(p)).count();
    assert!(kept < on_frame.len() && kept >= 1);
    assert_eq!(renewed.len(), kept, "{renewed:?}");
    assert!(renewed.iter().any(|p| p["box"] == accepted["box"]));
    assert!(!renewed.iter().any(like_rejected));
    assert_eq!(
        proposals(&app, &token, mid, None).await.len(),
        all.len() - (on_frame.len() - kept)
    );

    // Fine-tuning from the detector, after a label was added: the new detector records its base
    // and knows the five labels. A detector of another project is not a base.
    let added = json_of(
        app.post_json(
            &token,
            &format!("/api/v1/studio/projects/{pid}/labels"),
            json!({"name": "star", "color": "#ff00ff"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let train_path = format!("/api/v1/studio/projects/{pid}/train");
    let foreign = app
        .post_json(
            &token,
            &format!("/api/v1/studio/projects/{other_pid}/train"),
            json!({"base_detector_id": did}),
        )
        .await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    let tuned = json_of(
        app.post_json(
            &token,
            &train_path,
            json!({"base_detector_id": did, "max_epochs": 2, "time_budget_secs": 10}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let job = app
        .wait_job(&token, tuned["job_id"].as_str().expect("job"), WAIT, |j| {
            !matches!(j["status"].as_str(), Some("queued" | "running"))
        })
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let tuned_id = job["output"]["detector_id"].as_i64().expect("detector");
    let detector = json_of(
        app.get(&token, &format!("/api/v1/studio/detectors/{tuned_id}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(detector["base_detector_id"], did);
    let names: Vec<&str> = detector["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .filter_map(|l| l["name"].as_str())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert_eq!(names[4], added["name"].as_str().expect("name"));
    app.stop().await;
}

crate::on_both_backends!(
    auto_annotation_proposes_boxes_to_accept_or_reject_and_fine_tuning_starts_from_a_detector
);
