//! Axis-aligned boxes in pixel coordinates (CVAT's `xtl, ytl, xbr, ybr`) and their overlap.

use serde::{Deserialize, Serialize};

/// An axis-aligned box: top-left `(xtl, ytl)` and bottom-right `(xbr, ybr)` corners in pixels,
/// the convention of CVAT's XML formats. Width is `xbr - xtl` (no "+1").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    /// Left edge.
    pub xtl: f64,
    /// Top edge.
    pub ytl: f64,
    /// Right edge.
    pub xbr: f64,
    /// Bottom edge.
    pub ybr: f64,
}

impl BBox {
    /// A box from its corners.
    pub const fn new(xtl: f64, ytl: f64, xbr: f64, ybr: f64) -> Self {
        Self { xtl, ytl, xbr, ybr }
    }

    /// A box from COCO's `[x, y, width, height]`.
    pub fn from_xywh(x: f64, y: f64, w: f64, h: f64) -> Self {
        Self::new(x, y, x + w, y + h)
    }

    /// Width in pixels.
    pub fn width(&self) -> f64 {
        self.xbr - self.xtl
    }

    /// Height in pixels.
    pub fn height(&self) -> f64 {
        self.ybr - self.ytl
    }

    /// Area in square pixels.
    pub fn area(&self) -> f64 {
        self.width() * self.height()
    }

    /// All four coordinates are finite and the box has positive width and height.
    pub fn is_proper(&self) -> bool {
        [self.xtl, self.ytl, self.xbr, self.ybr]
            .iter()
            .all(|v| v.is_finite())
            && self.xbr > self.xtl
            && self.ybr > self.ytl
    }

    /// The box lies inside a `width` × `height` image (edges may touch the border).
    pub fn inside(&self, width: u32, height: u32) -> bool {
        self.xtl >= 0.0
            && self.ytl >= 0.0
            && self.xbr <= f64::from(width)
            && self.ybr <= f64::from(height)
    }

    /// `self + (other - self) * t`, coordinate by coordinate: CVAT's linear interpolation.
    pub fn lerp(&self, other: &BBox, t: f64) -> BBox {
        BBox::new(
            self.xtl + (other.xtl - self.xtl) * t,
            self.ytl + (other.ytl - self.ytl) * t,
            self.xbr + (other.xbr - self.xbr) * t,
            self.ybr + (other.ybr - self.ybr) * t,
        )
    }

    /// Intersection over union; 0 when either box is empty.
    pub fn iou(&self, other: &BBox) -> f64 {
        let w = self.xbr.min(other.xbr) - self.xtl.max(other.xtl);
        let h = self.ybr.min(other.ybr) - self.ytl.max(other.ytl);
        if w <= 0.0 || h <= 0.0 {
            return 0.0;
        }
        let inter = w * h;
        inter / (self.area() + other.area() - inter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_half_overlapping_boxes_is_one_third() {
        let a = BBox::new(0.0, 0.0, 2.0, 2.0);
        let b = BBox::new(1.0, 0.0, 3.0, 2.0);
        assert_eq!(a.iou(&b), 2.0 / 6.0);
        assert_eq!(a.iou(&BBox::new(5.0, 5.0, 6.0, 6.0)), 0.0);
    }

    #[test]
    fn a_box_with_a_nan_corner_is_not_proper() {
        assert!(!BBox::new(f64::NAN, 0.0, 1.0, 1.0).is_proper());
        assert!(!BBox::new(2.0, 0.0, 1.0, 1.0).is_proper());
        assert!(BBox::new(0.0, 0.0, 1.0, 1.0).is_proper());
    }
}
