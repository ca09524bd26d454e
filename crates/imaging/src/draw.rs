//! Drawing on images: box outlines for detections.

use image::{Rgb, RgbImage};

/// An axis-aligned box to outline: left, top, width, height (may reach past the image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxOutline {
    /// Left edge.
    pub x: i64,
    /// Top edge.
    pub y: i64,
    /// Width.
    pub width: i64,
    /// Height.
    pub height: i64,
}

/// Outlines each box with lines `thickness` pixels wide drawn inside its edges, clipped to the
/// image.
pub fn draw_boxes(image: &mut RgbImage, boxes: &[BoxOutline], colour: [u8; 3], thickness: u32) {
    let (width, height) = (i64::from(image.width()), i64::from(image.height()));
    let t = i64::from(thickness.max(1));
    let mut fill = |x0: i64, y0: i64, x1: i64, y1: i64| {
        for y in y0.max(0)..y1.min(height) {
            for x in x0.max(0)..x1.min(width) {
                // In range by the clamps above.
                image.put_pixel(x as u32, y as u32, Rgb(colour));
            }
        }
    };
    for b in boxes.iter().filter(|b| b.width > 0 && b.height > 0) {
        let (x1, y1) = (b.x + b.width, b.y + b.height);
        let inner = t.min(b.width).min(b.height);
        fill(b.x, b.y, x1, b.y + inner);
        fill(b.x, y1 - inner, x1, y1);
        fill(b.x, b.y, b.x + inner, y1);
        fill(x1 - inner, b.y, x1, y1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_is_outlined_inside_its_edges_and_nothing_else_changes() {
        let mut image = RgbImage::new(6, 5);
        draw_boxes(
            &mut image,
            &[BoxOutline {
                x: 1,
                y: 1,
                width: 4,
                height: 3,
            }],
            [255, 0, 0],
            1,
        );
        let red: Vec<(u32, u32)> = image
            .enumerate_pixels()
            .filter(|(_, _, p)| p.0 == [255, 0, 0])
            .map(|(x, y, _)| (x, y))
            .collect();
        assert_eq!(
            red,
            vec![
                (1, 1),
                (2, 1),
                (3, 1),
                (4, 1),
                (1, 2),
                (4, 2),
                (1, 3),
                (2, 3),
                (3, 3),
                (4, 3)
            ]
        );
    }

    #[test]
    fn boxes_past_the_border_are_clipped() {
        let mut image = RgbImage::new(4, 4);
        draw_boxes(
            &mut image,
            &[BoxOutline {
                x: -2,
                y: -2,
                width: 10,
                height: 3,
            }],
            [0, 255, 0],
            2,
        );
        assert_eq!(image.get_pixel(0, 0).0, [0, 255, 0]);
        assert_eq!(image.get_pixel(3, 2).0, [0, 0, 0]);
    }
}
