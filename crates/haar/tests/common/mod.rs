//! Helpers shared by the integration tests.

use std::path::Path;

/// Reads a binary PGM (P5) or PPM (P6) file with maxval 255: (pixels, width, height, channels).
pub fn read_pnm(path: &Path) -> (Vec<u8>, u32, u32, usize) {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Header: magic, width, height, maxval, each followed by whitespace (no comments written).
    let mut fields = Vec::new();
    let mut pos = 0;
    while fields.len() < 4 {
        while data[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let start = pos;
        while !data[pos].is_ascii_whitespace() {
            pos += 1;
        }
        fields.push(String::from_utf8_lossy(&data[start..pos]).to_string());
    }
    pos += 1;
    let channels = match fields[0].as_str() {
        "P5" => 1,
        "P6" => 3,
        other => panic!("{}: unsupported PNM {other}", path.display()),
    };
    let w: u32 = fields[1].parse().expect("width");
    let h: u32 = fields[2].parse().expect("height");
    assert_eq!(fields[3], "255");
    let n = w as usize * h as usize * channels;
    (data[pos..pos + n].to_vec(), w, h, channels)
}
