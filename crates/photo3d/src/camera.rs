//! Camera paths: zoom-in, dolly-zoom, swing and circle, as 3d-photo-inpainting offers.
//!
//! The scene's camera starts at the origin looking down +Z with focal length
//! [`LayeredScene::focal`]; content of disparity `δ` sits at depth `1/δ` (nearest = 1).
//! A [`Pose`] translates the camera and may scale its focal length (dolly-zoom);
//! [`project`] maps a scene vertex to photo pixels for a pose (the renderer and the quality
//! measures use it).
//!
//! `amplitude` is the same unit for every path: the largest image-plane displacement of
//! the nearest content, as a fraction of the photo's longer side (0.03 at 512 px = 15 px).
//! The scene supports amplitudes up to the one it was built for; larger ones are clamped.
//!
//! Framing: a moving camera would see past the photo's border, where there is nothing but
//! the edge-replicated margin (a smear of the outermost pixels). So each path is rendered
//! with one slight zoom for all its frames ([`CameraPath::zoom`]), the smallest that keeps
//! the photo's border outside the frame in every pose, as 3d-photo-inpainting crops to
//! what every pose sees.

use crate::{LayeredScene, Photo3dError};

/// A camera pose relative to the photo's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// Sideways translation (scene units; +x moves the camera right).
    pub tx: f32,
    /// Vertical translation (+y moves the camera down).
    pub ty: f32,
    /// Forward translation (+z moves the camera into the scene).
    pub tz: f32,
    /// Focal-length multiplier (1 = the photo's).
    pub focal_scale: f32,
}

impl Pose {
    /// The photo's own pose.
    pub const IDENTITY: Pose = Pose {
        tx: 0.0,
        ty: 0.0,
        tz: 0.0,
        focal_scale: 1.0,
    };
}

/// The shape of the camera's motion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathKind {
    /// Move straight in (eased), starting at the photo's pose.
    ZoomIn,
    /// Move back while zooming in so the subject keeps its size (the "vertigo" effect).
    DollyZoom,
    /// Swing left and right (one period), starting at the photo's pose.
    Swing,
    /// Circle around the photo's viewpoint (one turn).
    Circle,
}

impl PathKind {
    /// Every path.
    pub const ALL: [PathKind; 4] = [
        PathKind::ZoomIn,
        PathKind::DollyZoom,
        PathKind::Swing,
        PathKind::Circle,
    ];

    /// The path's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            PathKind::ZoomIn => "zoom-in",
            PathKind::DollyZoom => "dolly-zoom",
            PathKind::Swing => "swing",
            PathKind::Circle => "circle",
        }
    }

    /// Parses a path name (`zoom-in`, `dolly-zoom`, `swing`, `circle`).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.as_str().replace('-', "_") == s)
    }
}

/// A timed camera path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraPath {
    /// The motion.
    pub kind: PathKind,
    /// Length in seconds.
    pub duration: f32,
    /// Frames per second.
    pub fps: u32,
    /// Largest displacement of the nearest content, as a fraction of the longer side.
    pub amplitude: f32,
}

impl Default for CameraPath {
    fn default() -> Self {
        Self {
            kind: PathKind::Circle,
            duration: 4.0,
            fps: 30,
            amplitude: 0.03,
        }
    }
}

impl CameraPath {
    /// Checks the parameters: duration in `(0, 60]`, fps in `1..=60`, amplitude in `[0, 0.25]`.
    pub fn validate(&self) -> Result<(), Photo3dError> {
        if !(self.duration.is_finite() && self.duration > 0.0 && self.duration <= 60.0) {
            return Err(Photo3dError::InvalidParams(format!(
                "duration must be in (0, 60] seconds, got {}",
                self.duration
            )));
        }
        if !(1..=60).contains(&self.fps) {
            return Err(Photo3dError::InvalidParams(format!(
                "fps must be in 1..=60, got {}",
                self.fps
            )));
        }
        if !(self.amplitude.is_finite() && (0.0..=0.25).contains(&self.amplitude)) {
            return Err(Photo3dError::InvalidParams(format!(
                "amplitude must be in [0, 0.25], got {}",
                self.amplitude
            )));
        }
        Ok(())
    }

    /// Number of frames: `round(fps × duration)`, at least 1.
    pub fn frame_count(&self) -> usize {
        ((self.fps as f32 * self.duration).round() as usize).max(1)
    }

    /// The pose of frame `i` of [`CameraPath::frame_count`] in `scene`.
    pub fn pose(&self, scene: &LayeredScene, i: usize) -> Pose {
        let n = self.frame_count();
        let t = i as f32 / n as f32;
        let side = scene.width.max(scene.height) as f32;
        let a = self.amplitude.min(scene.max_amplitude);
        // Sideways translation that moves the nearest content (δ = 1) by a·side pixels.
        let lateral = a * side / scene.focal;
        let ease = |t: f32| 0.5 - 0.5 * (std::f32::consts::PI * t).cos();
        let turn = 2.0 * std::f32::consts::PI * t;
        match self.kind {
            PathKind::ZoomIn => {
                // Nearest content at the frame edge moves by a·side: tz = 2a / (1 + 2a).
                let tz = 2.0 * a / (1.0 + 2.0 * a);
                Pose {
                    tz: tz * ease(t),
                    ..Pose::IDENTITY
                }
            }
            PathKind::DollyZoom => {
                // The subject at depth zr keeps its size: focal scale (zr + b) / zr while
                // moving back by b. Content at depth z is magnified by
                // m(z) = (zr + b) z / (zr (z + b)): far content grows, near content shrinks.
                // b is chosen so that, at the frame edge, the nearest and the farthest
                // content move apart by a·side: m(far) - m(near) = 2a.
                let zr = 1.0 / scene.subject_disparity.max(scene.far_disparity);
                let b = dolly_distance(zr, 1.0 / scene.far_disparity, a);
                let s = ease(t);
                Pose {
                    tz: -b * s,
                    focal_scale: (zr + b * s) / zr,
                    ..Pose::IDENTITY
                }
            }
            PathKind::Swing => Pose {
                tx: lateral * turn.sin(),
                ..Pose::IDENTITY
            },
            PathKind::Circle => Pose {
                tx: lateral * turn.cos(),
                ty: lateral * turn.sin(),
                ..Pose::IDENTITY
            },
        }
    }
}

/// Zoom is capped here: a path that would need more sees beyond the photo at its extremes
/// rather than losing a third of the picture (only amplitudes far above the defaults).
const MAX_ZOOM: f32 = 1.5;

/// Extra distance, in pixels, that the photo's border keeps outside the frame.
const BORDER_SLACK: f32 = 0.5;

impl CameraPath {
    /// The zoom (focal-length multiplier about the frame centre, ≥ 1) that keeps the photo's
    /// border outside the frame in every pose of the path, at most 1.5: the largest over the
    /// poses of what each needs, computed from where the photo's border vertices project.
    pub fn zoom(&self, scene: &LayeredScene) -> f32 {
        let border = border_vertices(scene);
        let (cx, cy) = (scene.width as f32 / 2.0, scene.height as f32 / 2.0);
        let mut zoom = 1.0f32;
        for i in 0..self.frame_count() {
            let pose = self.pose(scene, i);
            // Innermost projected position of each border: left, right, top, bottom.
            let mut inner = [
                f32::NEG_INFINITY,
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::INFINITY,
            ];
            for (side, v) in &border {
                let Some(p) = project(scene, &pose, v) else {
                    return MAX_ZOOM;
                };
                match side {
                    0 => inner[0] = inner[0].max(p.x),
                    1 => inner[1] = inner[1].min(p.x),
                    2 => inner[2] = inner[2].max(p.y),
                    _ => inner[3] = inner[3].min(p.y),
                }
            }
            // With zoom k the frame shows [c - c/k, c + c/k] of the unzoomed view.
            let need = |c: f32, gap: f32| {
                if gap >= c {
                    1.0
                } else if gap <= 0.0 {
                    MAX_ZOOM
                } else {
                    c / gap
                }
            };
            zoom = zoom
                .max(need(cx, cx - inner[0] - BORDER_SLACK))
                .max(need(cx, inner[1] - cx - BORDER_SLACK))
                .max(need(cy, cy - inner[2] - BORDER_SLACK))
                .max(need(cy, inner[3] - cy - BORDER_SLACK));
        }
        zoom.min(MAX_ZOOM)
    }

    /// Every frame's pose as rendered: [`CameraPath::pose`] with the path's
    /// [`CameraPath::zoom`] folded into the focal length.
    pub fn framed_poses(&self, scene: &LayeredScene) -> Vec<Pose> {
        let zoom = self.zoom(scene);
        (0..self.frame_count())
            .map(|i| {
                let pose = self.pose(scene, i);
                Pose {
                    focal_scale: pose.focal_scale * zoom,
                    ..pose
                }
            })
            .collect()
    }
}

/// The main layer's vertices on the photo's border, tagged 0 = left, 1 = right, 2 = top,
/// 3 = bottom (corners belong to two sides).
fn border_vertices(scene: &LayeredScene) -> Vec<(u8, crate::Vertex)> {
    let (w, h) = (scene.width as f32, scene.height as f32);
    let Some(main) = scene.layers.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for v in &main.vertices {
        let inside_y = (0.0..=h).contains(&v.y);
        let inside_x = (0.0..=w).contains(&v.x);
        if inside_y && v.x == 0.0 {
            out.push((0, *v));
        }
        if inside_y && v.x == w {
            out.push((1, *v));
        }
        if inside_x && v.y == 0.0 {
            out.push((2, *v));
        }
        if inside_x && v.y == h {
            out.push((3, *v));
        }
    }
    out
}

/// The dolly-zoom's backward distance for subject depth `zr`, depth range `[1, zf]` and
/// amplitude `a` (see [`CameraPath::pose`]), by bisection: the spread is increasing in b.
fn dolly_distance(zr: f32, zf: f32, a: f32) -> f32 {
    let m = |z: f32, b: f32| (zr + b) * z / (zr * (z + b));
    let spread = |b: f32| m(zf, b) - m(1.0, b);
    let (mut lo, mut hi) = (0.0f32, 8.0 * zr);
    if spread(hi) <= 2.0 * a {
        return hi;
    }
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        if spread(mid) < 2.0 * a {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// A vertex projected for one pose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projected {
    /// Horizontal position in photo pixels.
    pub x: f32,
    /// Vertical position in photo pixels.
    pub y: f32,
    /// Inverse depth from the moved camera (larger = nearer).
    pub inv_z: f32,
}

/// Projects a scene vertex for `pose`; `None` when it falls behind the camera.
#[inline]
pub fn project(scene: &LayeredScene, pose: &Pose, v: &crate::Vertex) -> Option<Projected> {
    let (cx, cy) = (scene.width as f32 / 2.0, scene.height as f32 / 2.0);
    let d = v.disparity;
    let denom = 1.0 - pose.tz * d;
    if denom <= 0.05 {
        return None;
    }
    let s = pose.focal_scale / denom;
    Some(Projected {
        x: ((v.x - cx) - scene.focal * pose.tx * d) * s + cx,
        y: ((v.y - cy) - scene.focal * pose.ty * d) * s + cy,
        inv_z: d / denom,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_is_fps_times_duration_and_bad_values_are_rejected() {
        let p = CameraPath {
            duration: 4.0,
            fps: 30,
            ..CameraPath::default()
        };
        assert_eq!(p.frame_count(), 120);
        assert_eq!(
            CameraPath {
                duration: 0.5,
                fps: 25,
                ..p
            }
            .frame_count(),
            13
        );
        assert!(CameraPath { fps: 0, ..p }.validate().is_err());
        assert!(
            CameraPath {
                duration: -1.0,
                ..p
            }
            .validate()
            .is_err()
        );
        assert!(
            CameraPath {
                amplitude: f32::NAN,
                ..p
            }
            .validate()
            .is_err()
        );
        assert!(p.validate().is_ok());
    }

    #[test]
    fn path_names_round_trip() {
        for k in PathKind::ALL {
            assert_eq!(PathKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(PathKind::parse("dolly_zoom"), Some(PathKind::DollyZoom));
        assert_eq!(PathKind::parse("spin"), None);
    }
}
