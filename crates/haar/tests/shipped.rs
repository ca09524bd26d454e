//! Every cascade OpenCV ships (Debian `opencv-data`, or the directory named by
//! `ATELIER_CASCADE_DIR`, e.g. the `cv2/data` folder of the opencv-python wheel) loads and runs.
//!
//! Skipped with a message when no cascade directory is installed, unless
//! `ATELIER_REQUIRE_PARITY=1`.

use std::path::PathBuf;

use atelier_haar::{Cascade, DetectParams, FeatureType, GrayImage, catalogue};

fn cascade_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("ATELIER_CASCADE_DIR") {
        return Some(PathBuf::from(d));
    }
    atelier_haar::default_cascade_dirs()
        .into_iter()
        .find(|d| d.join("haarcascades").is_dir())
}

/// A 200×150 image with texture, edges and flat areas.
fn test_image() -> Vec<u8> {
    let (w, h) = (200usize, 150usize);
    (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            let ring = ((x as i32 - 100).pow(2) + (y as i32 - 75).pow(2)) / 90;
            if x < 30 {
                128
            } else {
                ((ring as usize * 37 + x * 3 + (y / 7) * 11) % 256) as u8
            }
        })
        .collect()
}

#[test]
fn every_shipped_cascade_loads_and_runs() {
    let Some(dir) = cascade_dir() else {
        if std::env::var("ATELIER_REQUIRE_PARITY").as_deref() == Ok("1") {
            panic!("no OpenCV cascade directory found (apt-get install opencv-data)");
        }
        eprintln!("SKIPPED: no OpenCV cascade directory (apt-get install opencv-data)");
        return;
    };
    let entries = catalogue(&dir).expect("catalogue");
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let mut expected = vec!["frontalface_default", "eye", "fullbody", "frontalcatface"];
    // The cv2 wheel ships Haar cascades only; Debian's opencv-data has lbpcascades/ too.
    if dir.join("lbpcascades").is_dir() {
        expected.push("lbp_frontalface_improved");
    }
    for name in expected {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let pixels = test_image();
    let img = GrayImage::packed(&pixels, 200, 150).expect("image");
    let mut lbp = 0;
    for e in &entries {
        let c: Cascade = e.load().unwrap_or_else(|err| panic!("{}: {err}", e.name));
        assert!(c.stage_count() > 0, "{}", e.name);
        if c.feature_type() == FeatureType::Lbp {
            lbp += 1;
        }
        for params in [
            DetectParams::default(),
            DetectParams {
                scale_factor: 1.3,
                min_neighbors: 0,
                ..DetectParams::default()
            },
        ] {
            c.detect_multi_scale(&img, &params)
                .unwrap_or_else(|err| panic!("{}: {err}", e.name));
        }
    }
    eprintln!(
        "{} cascades from {} ({} LBP): {}",
        entries.len(),
        dir.display(),
        lbp,
        names.join(", ")
    );
    assert!(entries.len() >= 17, "only {} cascades", entries.len());
}
