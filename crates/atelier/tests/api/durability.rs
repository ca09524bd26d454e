//! Acknowledged means durable (finding 15 of issue 15): the real `atelier serve`, traced with
//! strace, must have synced an upload's blob file and its folder to disk before it answers
//! 201, so a power cut cannot take back a file its row points to. strace is required: without
//! it the test fails (`apt-get install strace`).

use std::{collections::HashMap, process::Stdio, time::Duration};

use reqwest::{StatusCode, multipart};
use serde_json::Value;
use tokio::process::Command;

use crate::helpers::{Backend, Sandbox, binary, free_port, images, register_at};

/// The paths that were `fsync`ed (or `fdatasync`ed) in an `strace -f` log of `openat` and
/// the sync calls, following each thread's file descriptors.
fn synced_paths(log: &str) -> Vec<String> {
    let mut open: HashMap<i64, String> = HashMap::new();
    let mut pending: HashMap<String, String> = HashMap::new();
    let mut synced = Vec::new();
    let path_of = |call: &str| -> Option<String> {
        let start = call.find('"')? + 1;
        let end = start + call[start..].find('"')?;
        Some(call[start..end].to_owned())
    };
    let result_of = |line: &str| -> Option<i64> { line.rsplit("= ").next()?.trim().parse().ok() };
    for line in log.lines() {
        let (pid, call) = line.split_once(' ').unwrap_or(("", line));
        let call = call.trim_start();
        if call.starts_with("openat(") {
            let Some(path) = path_of(call) else { continue };
            if call.ends_with("<unfinished ...>") {
                pending.insert(pid.to_owned(), path);
            } else if let Some(fd) = result_of(call).filter(|fd| *fd >= 0) {
                open.insert(fd, path);
            }
        } else if call.starts_with("<... openat resumed>") {
            if let (Some(path), Some(fd)) = (pending.remove(pid), result_of(call))
                && fd >= 0
            {
                open.insert(fd, path);
            }
        } else if call.starts_with("fsync(") || call.starts_with("fdatasync(") {
            let fd = call.split_once('(').and_then(|(_, args)| {
                let digits: String = args.chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<i64>().ok()
            });
            if let Some(path) = fd.and_then(|fd| open.get(&fd)) {
                synced.push(path.clone());
            }
        }
    }
    synced
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_upload_is_synced_to_disk() {
    let sandbox = Sandbox::new(Backend::Embedded).await;
    let dir = sandbox.dir.path().to_owned();
    let log = dir.join("strace.log");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=openat,fsync,fdatasync", "-o"])
        .arg(&log)
        .arg(binary())
        .args([
            "serve",
            "--workers",
            "0",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--data-dir")
        .arg(&dir)
        .env("ATELIER_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("strace must be installed for this test (apt-get install strace)");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..400 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "atelier under strace did not start");
    let (token, _) = register_at(&client, &base, "durable").await;
    let bytes = images::png(31, 17);
    let response = client
        .post(format!("{base}/api/v1/uploads"))
        .bearer_auth(&token)
        .multipart(
            multipart::Form::new().part("file", multipart::Part::bytes(bytes).file_name("a.png")),
        )
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), StatusCode::CREATED);
    let upload: Value = response.json().await.expect("json");
    let sha = upload["sha256"].as_str().expect("sha").to_owned();
    let _ = server.start_kill();
    let _ = server.wait().await;

    let text = std::fs::read_to_string(&log).expect("strace log");
    let synced = synced_paths(&text);
    let shard = dir.join("objects").join("blobs").join(&sha[..2]);
    let blob = shard.join(&sha).display().to_string();
    assert!(
        synced.contains(&blob),
        "the blob file {blob} was never synced; synced: {synced:?}"
    );
    let folder = shard.display().to_string();
    assert!(
        synced.contains(&folder),
        "the blob's folder {folder} was never synced; synced: {synced:?}"
    );
}

#[test]
fn the_strace_reader_follows_descriptors_across_unfinished_calls() {
    let log = "10 openat(AT_FDCWD, \"/d/a\", O_RDONLY <unfinished ...>\n\
               11 openat(AT_FDCWD, \"/d/b\", O_RDONLY) = 7\n\
               10 <... openat resumed>) = 8\n\
               10 fsync(8 <unfinished ...>\n\
               11 fsync(7) = 0\n\
               10 <... fsync resumed>) = 0\n";
    assert_eq!(
        synced_paths(log),
        vec!["/d/a".to_owned(), "/d/b".to_owned()]
    );
}
