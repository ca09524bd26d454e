//! Multi-block LBP features: the 3×3 grid of equal blocks that OpenCV's LBP cascades use, their
//! enumeration over a window and their 8-bit codes read from an integral image.
//!
//! A feature is the top-left block `(x, y, width, height)` of a 3×3 grid; its code compares the
//! sum of each outer block with the centre block's, clockwise from the top-left block (bit 7)
//! to the left block (bit 0), a bit being set when the outer sum is `>=` the centre's. This is
//! the code `atelier_haar` (and OpenCV's `LBPEvaluator`) computes at detection time.

use atelier_haar::Size;

/// One LBP feature: the top-left block of its 3×3 grid, in window pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LbpRect {
    /// Left edge of the grid.
    pub x: u32,
    /// Top edge of the grid.
    pub y: u32,
    /// Width of one block.
    pub width: u32,
    /// Height of one block.
    pub height: u32,
}

/// Every feature whose grid fits in `window`, ordered by `x`, then `y`, then block width, then
/// block height (the order OpenCV's trainer enumerates them, so the derived `Ord` sorts a
/// cascade's features the same way). A 24×24 window has 8464.
pub fn enumerate(window: Size) -> Vec<LbpRect> {
    let (ww, wh) = (window.width, window.height);
    let mut out = Vec::new();
    for x in 0..ww {
        for y in 0..wh {
            for width in 1..=ww / 3 {
                for height in 1..=wh / 3 {
                    if x + 3 * width <= ww && y + 3 * height <= wh {
                        out.push(LbpRect {
                            x,
                            y,
                            width,
                            height,
                        });
                    }
                }
            }
        }
    }
    out
}

/// The integral image of a `width` × `height` gray patch: `(width + 1) × (height + 1)` sums with
/// a zero first row and column, wrapping in 32 bits as OpenCV's `CV_32S` integrals do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integral {
    stride: usize,
    data: Vec<i32>,
}

impl Integral {
    /// The integral of `pixels` (row-major, `width` × `height`, no padding).
    pub fn new(pixels: &[u8], width: usize, height: usize) -> Self {
        debug_assert_eq!(pixels.len(), width * height);
        let stride = width + 1;
        let mut data = vec![0i32; stride * (height + 1)];
        for y in 0..height {
            let mut row = 0i32;
            for x in 0..width {
                row = row.wrapping_add(i32::from(pixels[y * width + x]));
                data[(y + 1) * stride + x + 1] = data[y * stride + x + 1].wrapping_add(row);
            }
        }
        Self { stride, data }
    }

    /// The sum of the `w` × `h` block at (`x`, `y`).
    #[inline]
    fn block(&self, x: usize, y: usize, w: usize, h: usize) -> i32 {
        let s = self.stride;
        let at = |x: usize, y: usize| self.data[y * s + x];
        at(x, y)
            .wrapping_sub(at(x + w, y))
            .wrapping_sub(at(x, y + h))
            .wrapping_add(at(x + w, y + h))
    }

    /// The LBP code of feature `f` (which must lie inside the patch).
    pub fn code(&self, f: &LbpRect) -> u8 {
        self.code_at(f, 0, 0)
    }

    /// The LBP code of feature `f` of the window whose corner is at (`ox`, `oy`).
    pub fn code_at(&self, f: &LbpRect, ox: usize, oy: usize) -> u8 {
        let (w, h) = (f.width as usize, f.height as usize);
        let (x, y) = (ox + f.x as usize, oy + f.y as usize);
        let b = |i: usize, j: usize| self.block(x + i * w, y + j * h, w, h);
        let centre = b(1, 1);
        // Clockwise from the top-left block, as in OpenCV's LBPEvaluator.
        let ring = [
            (0, 0),
            (1, 0),
            (2, 0),
            (2, 1),
            (2, 2),
            (1, 2),
            (0, 2),
            (0, 1),
        ];
        ring.iter().fold(0u8, |code, &(i, j)| {
            (code << 1) | u8::from(b(i, j) >= centre)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_24_by_24_window_has_8464_features_in_opencv_order() {
        let all = enumerate(Size::new(24, 24));
        assert_eq!(all.len(), 8464);
        assert_eq!(
            all[0],
            LbpRect {
                x: 0,
                y: 0,
                width: 1,
                height: 1
            }
        );
        assert_eq!(
            all[1],
            LbpRect {
                x: 0,
                y: 0,
                width: 1,
                height: 2
            }
        );
        assert!(all.windows(2).all(|p| p[0] < p[1]));
        assert!(
            all.iter()
                .all(|f| f.x + 3 * f.width <= 24 && f.y + 3 * f.height <= 24)
        );
    }

    #[test]
    fn the_integral_of_a_tiny_patch_sums_its_blocks() {
        let pixels = [1u8, 2, 3, 4, 5, 6];
        let ii = Integral::new(&pixels, 3, 2);
        assert_eq!(ii.block(0, 0, 3, 2), 21);
        assert_eq!(ii.block(1, 1, 2, 1), 11);
        assert_eq!(ii.block(2, 0, 1, 2), 9);
    }

    #[test]
    fn the_lbp_code_sets_a_bit_for_each_block_not_darker_than_the_centre() {
        let pixels = [10u8, 50, 20, 40, 30, 60, 70, 5, 30];
        let ii = Integral::new(&pixels, 3, 3);
        let f = LbpRect {
            x: 0,
            y: 0,
            width: 1,
            height: 1,
        };
        // Clockwise from the top-left against the centre 30: 10 50 20 60 30 5 70 40.
        assert_eq!(ii.code(&f), 0b0101_1011);
        // A flat patch: every block equals the centre, every bit set.
        let flat = Integral::new(&[9u8; 36], 6, 6);
        assert_eq!(
            flat.code(&LbpRect {
                x: 0,
                y: 0,
                width: 2,
                height: 2
            }),
            255
        );
    }

    #[test]
    fn two_by_two_blocks_compare_block_sums() {
        // A 6×6 patch whose centre 2×2 block is brighter than all but the bottom-right block.
        let mut pixels = [0u8; 36];
        for y in 2..4 {
            for x in 2..4 {
                pixels[y * 6 + x] = 100;
            }
        }
        for y in 4..6 {
            for x in 4..6 {
                pixels[y * 6 + x] = 200;
            }
        }
        let ii = Integral::new(&pixels, 6, 6);
        assert_eq!(
            ii.code(&LbpRect {
                x: 0,
                y: 0,
                width: 2,
                height: 2
            }),
            0b0000_1000
        );
    }
}
