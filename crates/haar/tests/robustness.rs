//! Hostile input never panics: truncated and corrupted cascades, odd images, odd parameters.

use atelier_haar::{Cascade, DetectParams, GrayImage, HaarError, Size};

/// Small deterministic generator (SplitMix64) so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SMALL: &str = r#"<?xml version="1.0"?>
<opencv_storage>
<cascade type_id="opencv-cascade-classifier"><stageType>BOOST</stageType>
  <featureType>HAAR</featureType>
  <height>6</height>
  <width>6</width>
  <stageParams><maxWeakCount>2</maxWeakCount></stageParams>
  <featureParams><maxCatCount>0</maxCatCount></featureParams>
  <stageNum>2</stageNum>
  <stages>
    <_>
      <maxWeakCount>1</maxWeakCount>
      <stageThreshold>-0.5</stageThreshold>
      <weakClassifiers>
        <_><internalNodes>0 -1 0 0.01</internalNodes>
          <leafValues>-1. 1.</leafValues></_></weakClassifiers></_>
    <_>
      <maxWeakCount>2</maxWeakCount>
      <stageThreshold>0.</stageThreshold>
      <weakClassifiers>
        <_><internalNodes>1 0 1 0.02 -1 -2 2 -0.03</internalNodes>
          <leafValues>-1. 1. 0.5</leafValues></_>
        <_><internalNodes>0 -1 1 0.</internalNodes>
          <leafValues>0.3 -0.2</leafValues></_></weakClassifiers></_></stages>
  <features>
    <_><rects><_>0 0 6 6 -1.</_><_>0 0 3 6 2.</_></rects></_>
    <_><rects><_>0 0 6 6 -1.</_><_>0 2 6 2 3.</_></rects></_>
    <_><rects><_>2 0 2 2 -1.</_><_>3 1 1 1 2.</_></rects><tilted>1</tilted></_></features></cascade>
</opencv_storage>"#;

#[test]
fn the_small_cascade_itself_is_valid() {
    let c = Cascade::from_xml(SMALL).expect("valid");
    assert!(c.has_tilted_features());
    let pixels: Vec<u8> = (0..64 * 48).map(|i| (i * 7 % 251) as u8).collect();
    let img = GrayImage::packed(&pixels, 64, 48).expect("image");
    c.detect_multi_scale(&img, &DetectParams::default())
        .expect("detect");
}

#[test]
fn truncated_cascades_fail_cleanly() {
    for cut in 0..SMALL.len() {
        if !SMALL.is_char_boundary(cut) {
            continue;
        }
        // Any outcome but a panic is fine; most cuts are XML errors.
        let _ = Cascade::from_xml(&SMALL[..cut]);
    }
}

#[test]
fn corrupted_cascades_fail_cleanly_or_still_detect() {
    let mut rng = Rng(7);
    let pixels: Vec<u8> = (0..40 * 30).map(|i| (i * 13 % 256) as u8).collect();
    let img = GrayImage::packed(&pixels, 40, 30).expect("image");
    let alphabet = b"0123456789-+.e <>/_abc";
    for _ in 0..3000 {
        let mut bytes = SMALL.as_bytes().to_vec();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(bytes.len());
            bytes[i] = alphabet[rng.below(alphabet.len())];
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        if let Ok(c) = Cascade::from_xml(&text) {
            let p = DetectParams {
                min_neighbors: 0,
                ..DetectParams::default()
            };
            let _ = c.detect_multi_scale(&img, &p);
        }
    }
}

#[test]
fn odd_images_and_parameters_never_panic() {
    let c = Cascade::from_xml(SMALL).expect("valid");
    let mut rng = Rng(11);
    for _ in 0..300 {
        let w = 1 + rng.below(50) as u32;
        let h = 1 + rng.below(50) as u32;
        let stride = w as usize + rng.below(3);
        let pixels: Vec<u8> = (0..stride * h as usize).map(|_| rng.next() as u8).collect();
        let img = GrayImage::new(&pixels, w, h, stride).expect("image");
        let p = DetectParams {
            scale_factor: [1.01, 1.1, 1.5, 2.0, 7.0, 1e9][rng.below(6)],
            min_neighbors: rng.below(5) as u32,
            min_size: Size::new(rng.below(60) as u32, rng.below(60) as u32),
            max_size: Size::new(rng.below(60) as u32, rng.below(60) as u32),
        };
        match c.detect_multi_scale(&img, &p) {
            Ok(boxes) => {
                for b in boxes {
                    assert!(b.x >= 0 && b.y >= 0 && b.width > 0 && b.height > 0);
                    assert!(b.x + b.width <= w as i32 && b.y + b.height <= h as i32);
                }
            }
            Err(HaarError::InvalidParam { .. }) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
}
