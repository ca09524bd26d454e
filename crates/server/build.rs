//! Embeds the web app: walks `web/` at the workspace root and writes `web_assets.rs` into
//! `OUT_DIR`, a table of every file's path, bytes (`include_bytes!`), media type and a
//! SHA-256-based ETag, which `src/web.rs` serves. Files that are not part of the app (the
//! folder's README, the vendoring script) are left out.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha256};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../../web");
    let root = root.canonicalize().unwrap_or(root);
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    let mut out =
        String::from("/// Every embedded file of `web/`.\npub static ASSETS: &[Asset] = &[\n");
    for (relative, absolute) in &files {
        let bytes = fs::read(absolute).expect("read a web file");
        let digest = Sha256::digest(&bytes);
        let etag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        writeln!(
            out,
            "    Asset {{ path: {relative:?}, bytes: include_bytes!({:?}), content_type: {:?}, etag: \"\\\"{etag}\\\"\" }},",
            absolute.display().to_string(),
            content_type(relative),
        )
        .expect("write");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("web_assets.rs");
    fs::write(dest, out).expect("write web_assets.rs");
}

/// Asks cargo to rerun when `path` changes, naming it relative to the package (`../../web/…`):
/// an absolute path would tie a target folder copied to another checkout (a worktree) to the
/// first checkout's files, so that checkout's `web/` would be embedded instead.
fn watch(root: &Path, path: &Path) {
    let relative = path.strip_prefix(root).unwrap_or(Path::new(""));
    println!(
        "cargo:rerun-if-changed={}",
        Path::new("../../web").join(relative).display()
    );
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    watch(root, dir);
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, files);
            continue;
        }
        if name == "README.md" || name.ends_with(".sh") {
            continue;
        }
        watch(root, &path);
        let relative = path
            .strip_prefix(root)
            .expect("under web/")
            .to_string_lossy()
            .replace('\\', "/");
        files.push((relative, path));
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "webmanifest" => "application/manifest+json",
        "woff2" => "font/woff2",
        _ => "text/plain; charset=utf-8",
    }
}
