//! Runs the Node harness (`tests/node/harness.mjs`: the real pusher-js client and the real
//! `pusher` server library) against a test app and collects the JSON lines it prints.
//!
//! Needs `node` and `npm ci --prefix crates/atelier/tests/node`. Without them the tests skip with
//! a printed reason, unless `ATELIER_REQUIRE_NODE=1` (CI), where they fail.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use serde_json::Value;

/// When set to 1, a missing Node or missing `node_modules` fails the tests.
pub const REQUIRE_NODE_ENV: &str = "ATELIER_REQUIRE_NODE";

/// The harness folder.
pub fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

/// Whether the harness can run; panics when it must but cannot.
pub fn available() -> bool {
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let modules = folder()
        .join("node_modules/pusher-js/package.json")
        .is_file()
        && folder().join("node_modules/pusher/package.json").is_file();
    let reason = match (node, modules) {
        (true, true) => return true,
        (false, _) => "node is not installed".to_owned(),
        (true, false) => format!(
            "the harness's node_modules are missing: run `npm ci --prefix {}`",
            folder().display()
        ),
    };
    if std::env::var(REQUIRE_NODE_ENV).as_deref() == Ok("1") {
        panic!("{REQUIRE_NODE_ENV}=1 but {reason}");
    }
    eprintln!("skipping the pusher-js test: {reason}");
    false
}

/// Runs `node harness.mjs <scenario> <config>`; returns every JSON line it printed. Panics when
/// the harness fails or times out (its stderr and output are shown).
pub async fn run(scenario: &str, config: &Value) -> Vec<Value> {
    run_script(
        &folder().join("harness.mjs"),
        &[scenario.to_owned(), config.to_string()],
        Duration::from_secs(90),
    )
    .await
}

/// Runs `node SCRIPT ARGS…` in the script's folder; returns every JSON line it printed, the
/// last of which must be `{"ev": "done"}`. Panics when it fails or outlives `limit` (its stderr
/// and output are shown).
pub async fn run_script(script: &Path, args: &[String], limit: Duration) -> Vec<Value> {
    let child = tokio::process::Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(script.parent().expect("the script's folder"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn node");
    let name = script.display();
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("node {name} timed out"))
        .expect("node output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    assert!(
        output.status.success() && lines.last().is_some_and(|l| l["ev"] == "done"),
        "node {name} {} failed ({}):\n{stdout}\n{}",
        args.first().map(String::as_str).unwrap_or_default(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    lines
}

/// The lines with `ev == name`.
pub fn events<'a>(lines: &'a [Value], name: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["ev"] == name).collect()
}

/// The only line with `ev == name` and `field == value`.
pub fn one<'a>(lines: &'a [Value], name: &str, field: &str, value: &str) -> &'a Value {
    let found: Vec<_> = events(lines, name)
        .into_iter()
        .filter(|l| l[field] == value)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {name} with {field}={value} in {lines:#?}"
    );
    found[0]
}
