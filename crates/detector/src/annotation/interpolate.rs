//! A track's position on any frame, by CVAT's rules:
//!
//! - on a key frame, the key frame itself;
//! - between two key frames, each corner moves linearly from the earlier box to the later one,
//!   `box0 + (box1 - box0) · (f - f0) / (f1 - f0)`, while the flags (occluded, outside, z-order)
//!   and attribute values are the earlier key frame's;
//! - an outside key frame hides the object until the next key frame (nothing is interpolated
//!   out of it), and a track is absent before its first key frame;
//! - after the last key frame, the last box stays where it is to the end of the media unless
//!   that key frame is outside.
//!
//! Editing a frame that is not a key frame ([`Track::set_box`]) makes it one.

use super::{Attributes, KeyFrame, Track};
use crate::geometry::BBox;

/// A track's state on one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackState {
    /// The box.
    pub bbox: BBox,
    /// Hidden on this frame.
    pub outside: bool,
    /// Partly hidden.
    pub occluded: bool,
    /// Drawing order.
    pub z_order: i32,
    /// This frame is a key frame.
    pub keyframe: bool,
    /// Mutable attribute values in force.
    pub attributes: Attributes,
}

impl Track {
    /// The track's state on `frame`, or `None` before its first key frame. A state with
    /// `outside` set means the object is not visible there.
    pub fn state_at(&self, frame: u32) -> Option<TrackState> {
        let (&f0, k0) = self.keyframes.range(..=frame).next_back()?;
        let state = |bbox: BBox, keyframe: bool| TrackState {
            bbox,
            outside: k0.outside,
            occluded: k0.occluded,
            z_order: k0.z_order,
            keyframe,
            attributes: k0.attributes.clone(),
        };
        if f0 == frame {
            return Some(state(k0.bbox, true));
        }
        if k0.outside {
            return Some(state(k0.bbox, false));
        }
        match self.keyframes.range(frame + 1..).next() {
            Some((&f1, k1)) => {
                let t = f64::from(frame - f0) / f64::from(f1 - f0);
                Some(state(k0.bbox.lerp(&k1.bbox, t), false))
            }
            None => Some(state(k0.bbox, false)),
        }
    }

    /// The visible box on `frame`, if any.
    pub fn box_at(&self, frame: u32) -> Option<BBox> {
        self.state_at(frame).filter(|s| !s.outside).map(|s| s.bbox)
    }

    /// Every frame in `0..frame_count` where the track is visible, with its state.
    pub fn visible_frames(&self, frame_count: u32) -> Vec<(u32, TrackState)> {
        let Some(&first) = self.keyframes.keys().next() else {
            return Vec::new();
        };
        (first..frame_count)
            .filter_map(|f| self.state_at(f).filter(|s| !s.outside).map(|s| (f, s)))
            .collect()
    }

    /// Places the box on `frame`: a key frame there is moved; an interpolated frame becomes a key
    /// frame with the flags and attributes in force there (visible). Returns the key frame that
    /// was replaced, if any.
    pub fn set_box(&mut self, frame: u32, bbox: BBox) -> Option<KeyFrame> {
        let key = match self.state_at(frame) {
            Some(state) => KeyFrame {
                bbox,
                outside: false,
                occluded: state.occluded,
                z_order: state.z_order,
                attributes: state.attributes,
            },
            None => KeyFrame::visible(bbox),
        };
        self.keyframes.insert(frame, key)
    }

    /// Marks the object as leaving view on `frame` (an outside key frame that keeps the box in
    /// force there), or back in view. Returns the key frame that was replaced, if any.
    pub fn set_outside(&mut self, frame: u32, outside: bool) -> Option<KeyFrame> {
        let state = self.state_at(frame);
        let key = match state {
            Some(state) => KeyFrame {
                bbox: state.bbox,
                outside,
                occluded: state.occluded,
                z_order: state.z_order,
                attributes: state.attributes,
            },
            None => {
                let first = self.keyframes.values().next()?.clone();
                KeyFrame { outside, ..first }
            }
        };
        self.keyframes.insert(frame, key)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn track(keys: &[(u32, BBox, bool)]) -> Track {
        Track {
            id: 1,
            label: "car".into(),
            source: "manual".into(),
            attributes: Attributes::new(),
            keyframes: keys
                .iter()
                .map(|&(f, b, outside)| {
                    (
                        f,
                        KeyFrame {
                            outside,
                            ..KeyFrame::visible(b)
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        }
    }

    /// An object moving at a constant velocity: x = 10 + 2.5 f, y = 4 + 0.75 f, 16 × 8 box.
    fn analytic(f: u32) -> BBox {
        let x = 10.0 + 2.5 * f64::from(f);
        let y = 4.0 + 0.75 * f64::from(f);
        BBox::new(x, y, x + 16.0, y + 8.0)
    }

    #[test]
    fn interpolated_boxes_equal_the_analytic_positions_exactly() {
        // Key frames 8 apart: every offset (f - f0) / 8 is a dyadic fraction, so the linear
        // interpolation must reproduce the motion bit for bit.
        let t = track(&[
            (0, analytic(0), false),
            (8, analytic(8), false),
            (32, analytic(32), false),
        ]);
        for f in 0..=32 {
            assert_eq!(t.box_at(f), Some(analytic(f)), "frame {f}");
            assert_eq!(
                t.state_at(f).map(|s| s.keyframe),
                Some(matches!(f, 0 | 8 | 32))
            );
        }
    }

    #[test]
    fn interpolation_between_key_frames_ten_apart_is_the_analytic_position() {
        let t = track(&[
            (0, analytic(0), false),
            (10, analytic(10), false),
            (20, analytic(20), false),
        ]);
        for f in 0..=20 {
            let (got, want) = (t.box_at(f).expect("visible"), analytic(f));
            for (a, b) in [
                (got.xtl, want.xtl),
                (got.ytl, want.ytl),
                (got.xbr, want.xbr),
                (got.ybr, want.ybr),
            ] {
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                    "frame {f}: {got:?} vs {want:?}"
                );
            }
        }
        // Frame 5 is the exact midpoint: (f - f0) / d = 0.5.
        assert_eq!(t.box_at(5), Some(analytic(5)));
    }

    #[test]
    fn an_outside_key_frame_ends_visibility_until_the_next_key_frame() {
        let b = BBox::new(0.0, 0.0, 10.0, 10.0);
        let c = BBox::new(20.0, 20.0, 30.0, 30.0);
        let t = track(&[(2, b, false), (4, b, true), (7, c, false)]);
        assert_eq!(t.box_at(0), None, "before the first key frame");
        assert_eq!(t.box_at(2), Some(b));
        assert_eq!(
            t.box_at(3),
            Some(b),
            "interpolated towards the outside key frame's box"
        );
        assert_eq!(t.box_at(4), None);
        assert_eq!(
            t.box_at(6),
            None,
            "nothing is interpolated out of an outside key frame"
        );
        assert_eq!(t.box_at(7), Some(c));
        assert_eq!(t.box_at(100), Some(c), "the last box stays to the end");
        let frames: Vec<u32> = t.visible_frames(10).into_iter().map(|(f, _)| f).collect();
        assert_eq!(frames, vec![2, 3, 7, 8, 9]);
    }

    #[test]
    fn a_hidden_track_is_listed_apart_from_the_visible_boxes_with_the_box_it_keeps() {
        let b = BBox::new(0.0, 0.0, 10.0, 10.0);
        let c = BBox::new(20.0, 20.0, 30.0, 30.0);
        let doc = crate::Annotations {
            tracks: [(1, track(&[(2, b, false), (4, c, true), (7, b, false)]))]
                .into_iter()
                .collect(),
            ..crate::Annotations::default()
        };
        let hidden = |f: u32| -> Vec<(BBox, bool)> {
            doc.hidden_tracks_on(f)
                .into_iter()
                .map(|h| (h.bbox, h.keyframe))
                .collect()
        };
        assert!(hidden(1).is_empty(), "before the first key frame: nothing");
        assert!(hidden(3).is_empty(), "visible there");
        assert_eq!(doc.boxes_on(3).len(), 1);
        assert_eq!(hidden(4), vec![(c, true)], "the outside key frame");
        assert_eq!(hidden(6), vec![(c, false)], "kept until the next key frame");
        assert!(doc.boxes_on(6).is_empty(), "never among the visible boxes");
        assert!(hidden(7).is_empty());
    }

    #[test]
    fn flags_between_key_frames_are_the_earlier_key_frames() {
        let b = BBox::new(0.0, 0.0, 10.0, 10.0);
        let mut t = track(&[(0, b, false), (10, b, false)]);
        if let Some(k) = t.keyframes.get_mut(&0) {
            k.occluded = true;
            k.attributes.insert("colour".into(), "red".into());
        }
        let s = t.state_at(5).expect("state");
        assert!(s.occluded);
        assert_eq!(s.attributes.get("colour").map(String::as_str), Some("red"));
        assert!(!t.state_at(10).expect("state").occluded);
    }

    #[test]
    fn editing_an_interpolated_frame_makes_it_a_key_frame() {
        let mut t = track(&[(0, analytic(0), false), (10, analytic(10), false)]);
        if let Some(k) = t.keyframes.get_mut(&0) {
            k.occluded = true;
        }
        assert!(!t.state_at(4).expect("state").keyframe);
        let moved = BBox::new(1.0, 1.0, 5.0, 5.0);
        assert_eq!(t.set_box(4, moved), None, "no key frame was there");
        let s = t.state_at(4).expect("state");
        assert!(s.keyframe);
        assert!(s.occluded, "flags in force are kept");
        assert_eq!(s.bbox, moved);
        // Frames either side now interpolate towards / away from the new key frame.
        assert_eq!(t.box_at(2), Some(analytic(0).lerp(&moved, 0.5)));
        assert_eq!(t.box_at(7), Some(moved.lerp(&analytic(10), 0.5)));
    }

    #[test]
    fn set_outside_hides_the_rest_of_the_track() {
        let mut t = track(&[(0, analytic(0), false), (10, analytic(10), false)]);
        t.set_outside(12, true);
        assert_eq!(t.box_at(11), Some(analytic(10)));
        assert_eq!(t.box_at(12), None);
        assert_eq!(t.box_at(50), None);
    }
}
