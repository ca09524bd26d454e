//! The built-in motions (BVH clips shipped in `motions/`, authored for this crate by
//! `author.rs`) and retargeting a clip onto a character's 2D skeleton: forward kinematics,
//! projection onto the picture plane, the character's own bone lengths (limb bones take the
//! clip's direction, girdle bones keep the drawing's and turn with the clip's hip/shoulder
//! line; upper arms stop at the body's side), root motion scaled by leg length, and feet kept
//! at the clip's height above the ground. The depth the projection drops orders the parts:
//! a limb behind the body's plane is drawn behind the torso in that frame ([`draw_orders`]).

use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::AnimateError;
use crate::bvh::{self, Bvh};
use crate::geom::Point;
use crate::parts::{DrawOrder, Part};
use crate::skeleton::{
    HIP, JOINT_NAMES, Joints, L_ELBOW, L_FOOT, L_HIP, L_KNEE, L_SHOULDER, PARENTS, R_ELBOW, R_FOOT,
    R_HIP, R_KNEE, R_SHOULDER, ROOT, TORSO,
};

/// A built-in motion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Motion {
    /// Walk in place.
    Walk,
    /// Wave the right hand.
    Wave,
    /// Crouch and jump.
    Jump,
    /// Sway and swing the arms.
    Dance,
    /// Run in place.
    Run,
}

impl Motion {
    /// Every built-in motion.
    pub const ALL: [Motion; 5] = [
        Motion::Walk,
        Motion::Wave,
        Motion::Jump,
        Motion::Dance,
        Motion::Run,
    ];

    /// The motion's name.
    pub fn name(self) -> &'static str {
        match self {
            Motion::Walk => "walk",
            Motion::Wave => "wave",
            Motion::Jump => "jump",
            Motion::Dance => "dance",
            Motion::Run => "run",
        }
    }

    /// The shipped BVH text of the motion.
    pub fn bvh_text(self) -> &'static str {
        match self {
            Motion::Walk => include_str!("../motions/walk.bvh"),
            Motion::Wave => include_str!("../motions/wave.bvh"),
            Motion::Jump => include_str!("../motions/jump.bvh"),
            Motion::Dance => include_str!("../motions/dance.bvh"),
            Motion::Run => include_str!("../motions/run.bvh"),
        }
    }

    /// The parsed clip (parsed once per process).
    pub fn clip(self) -> Result<&'static Bvh, AnimateError> {
        static CLIPS: [OnceLock<Result<Bvh, AnimateError>>; 5] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        let i = Motion::ALL.iter().position(|m| *m == self).unwrap_or(0);
        CLIPS[i]
            .get_or_init(|| bvh::parse(self.bvh_text()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl FromStr for Motion {
    type Err = AnimateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Motion::ALL
            .into_iter()
            .find(|m| m.name() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| AnimateError::UnknownMotion(s.to_owned()))
    }
}

impl std::fmt::Display for Motion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Map from our joints to the clip's joints.
fn joint_map(b: &Bvh) -> Result<[usize; 16], AnimateError> {
    let mut m = [0; 16];
    for (i, n) in JOINT_NAMES.iter().enumerate() {
        m[i] = b.joint(n).ok_or_else(|| AnimateError::Bvh {
            line: 0,
            message: format!("clip has no joint {n:?}"),
        })?;
    }
    Ok(m)
}

fn leg_length(j: &[Point; 16]) -> f32 {
    let l = |a: usize, b: usize, c: usize| j[a].dist(j[b]) + j[b].dist(j[c]);
    (l(R_HIP, R_KNEE, R_FOOT) + l(L_HIP, L_KNEE, L_FOOT)) / 2.0
}

/// How far (radians) an upper arm may swing inwards past hanging straight down along the
/// torso. A flat drawing cannot pass an arm in front of or behind its own body: the mesh
/// joining arm and torso at the armpit would fold, so a clip's arm swinging across the chest
/// stops at the body's side (the forearm keeps the clip's bend).
const ARM_INWARD_LIMIT: f32 = 0.0;

/// `Some(+1)` for the character's right upper arm, `Some(-1)` for the left, else `None`.
fn arm_side(c: usize) -> Option<f32> {
    match c {
        R_ELBOW => Some(1.0),
        L_ELBOW => Some(-1.0),
        _ => None,
    }
}

/// The rotation `(cos, sin)` that brings an upper arm direction `d` back inside the allowed
/// range relative to the torso (`up`, pelvis → chest): from [`ARM_INWARD_LIMIT`] inwards of
/// hanging down, outwards and up to straight above the shoulder. An arm past the limit turns
/// to the nearer end of the range.
fn arm_limit(up: Point, d: Point, side: f32) -> (f32, f32) {
    let ul = up.len();
    if ul < 1e-6 || d.len() < 1e-6 {
        return (1.0, 0.0);
    }
    let down = up * (-1.0 / ul);
    // The character's right is the image's left for an upright figure facing the viewer.
    let out = Point::new(-down.y, down.x) * side;
    // Angle from hanging down towards outwards; straight up is ±π.
    let phi = d.dot(out).atan2(d.dot(down));
    let lo = -ARM_INWARD_LIMIT;
    if phi >= lo {
        return (1.0, 0.0);
    }
    // Below the limit: the nearer end is the limit itself or straight up (φ = -π).
    let target = if phi - (-std::f32::consts::PI) < lo - phi {
        -std::f32::consts::PI
    } else {
        lo
    };
    // Rotating by +δ in the (down, out) frame; convert to image rotation.
    let delta = target - phi;
    let sign = down.cross(out).signum();
    let a = delta * sign;
    (a.cos(), a.sin())
}

/// Pose the character for `frames` frames at `fps`: one set of joints per frame, each bone
/// keeping the character's rest length.
pub fn retarget(
    rest: &Joints,
    clip: &Bvh,
    fps: f64,
    frames: usize,
) -> Result<Vec<Joints>, AnimateError> {
    let map = joint_map(clip)?;
    // The clip's rest pose (all channels zero) gives its leg length.
    let zero = vec![0.0; clip.frames.first().map_or(0, Vec::len)];
    let project = |w: &[[f64; 3]]| -> ([Point; 16], f32) {
        let mut p = [Point::default(); 16];
        for (i, &k) in map.iter().enumerate() {
            p[i] = Point::new(w[k][0] as f32, -(w[k][1] as f32));
        }
        let foot = w[map[R_FOOT]][1].min(w[map[L_FOOT]][1]) as f32;
        (p, foot)
    };
    let (clip_rest, _) = project(&clip.world_positions(&zero));
    let clip_leg = leg_length(&clip_rest).max(1e-3);
    let char_leg = leg_length(rest).max(1.0);
    let scale = char_leg / clip_leg;
    let ground = rest[R_FOOT].y.max(rest[L_FOOT].y);
    let root_x0 = {
        let n = clip.frames.len();
        clip.frames
            .iter()
            .map(|f| project(&clip.world_positions(f)).0[ROOT].x)
            .sum::<f32>()
            / n as f32
    };
    let lengths: Vec<f32> = (0..16)
        .map(|c| PARENTS[c].map_or(0.0, |p| rest[p].dist(rest[c])))
        .collect();
    let mut out = Vec::with_capacity(frames);
    for f in 0..frames {
        let values = clip.sample(f as f64 / fps);
        let (q, foot_h) = project(&clip.world_positions(&values));
        let mut p = [Point::default(); 16];
        p[ROOT] = Point::new(rest[ROOT].x + (q[ROOT].x - root_x0) * scale, rest[ROOT].y);
        // Girdle bones (pelvis → hips, chest → shoulders) keep the drawn offsets, turned with the
        // clip's hip or shoulder line; every other bone takes the clip's direction.
        let turn = |a: usize, b: usize| {
            let (now, then) = (q[b] - q[a], clip_rest[b] - clip_rest[a]);
            let ang = now.y.atan2(now.x) - then.y.atan2(then.x);
            (ang.cos(), ang.sin())
        };
        let hips = turn(R_HIP, L_HIP);
        let shoulders = turn(R_SHOULDER, L_SHOULDER);
        // Rotation added to each joint's bone by the arm limit, inherited by its children so
        // an elbow keeps the clip's bend.
        let mut extra = [(1.0f32, 0.0f32); 16];
        for c in 1..16 {
            let Some(par) = PARENTS[c] else { continue };
            let girdle = match c {
                R_HIP | L_HIP => Some(hips),
                R_SHOULDER | L_SHOULDER => Some(shoulders),
                _ => None,
            };
            let (ec, es) = extra[par];
            let mut d = (q[c] - q[par]).rotate(ec, es);
            extra[c] = extra[par];
            if let Some(side) = arm_side(c) {
                let (lc, ls) = arm_limit(p[TORSO] - p[HIP], d, side);
                d = d.rotate(lc, ls);
                extra[c] = (ec * lc - es * ls, ec * ls + es * lc);
            }
            let len = d.len();
            p[c] = match girdle {
                Some((co, si)) => p[par] + (rest[c] - rest[par]).rotate(co, si),
                None if len > 1e-4 => p[par] + d * (lengths[c] / len),
                None => p[par] + (rest[c] - rest[par]),
            };
        }
        // Ground contact: the lower foot sits as high above the ground as in the clip.
        let low = p[R_FOOT].y.max(p[L_FOOT].y);
        let dy = ground - foot_h.max(0.0) * scale - low;
        for j in &mut p {
            j.y += dy;
        }
        out.push(p);
    }
    Ok(out)
}

/// How far (fraction of the clip's leg length) a limb must lie off the body's plane to leave
/// its default side (legs behind, arms in front): a clip authored in the picture plane keeps
/// the default order.
const DEPTH_TIE: f32 = 0.02;

/// The drawing order of the body parts in each of `frames` frames at `fps`, from the clip's
/// depth (the axis the retarget projection drops; the viewer looks along -z from +z). The
/// body's plane passes through the pelvis, spanned by the spine (pelvis → chest) and the
/// shoulder and hip lines; each limb's depth is that of its middle and end joints (elbow and
/// hand, knee and foot) averaged, relative to the plane, towards the viewer. See
/// [`DrawOrder::from_depths`].
pub fn draw_orders(clip: &Bvh, fps: f64, frames: usize) -> Result<Vec<DrawOrder>, AnimateError> {
    let map = joint_map(clip)?;
    let zero = vec![0.0; clip.frames.first().map_or(0, Vec::len)];
    let leg = {
        let w = clip.world_positions(&zero);
        let d = |a: usize, b: usize| {
            let (p, q) = (w[map[a]], w[map[b]]);
            ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()
        };
        ((d(R_HIP, R_KNEE) + d(R_KNEE, R_FOOT) + d(L_HIP, L_KNEE) + d(L_KNEE, L_FOOT)) / 2.0)
            .max(1e-6)
    };
    Ok((0..frames)
        .map(|f| {
            let w = clip.world_positions(&clip.sample(f as f64 / fps));
            let at = |j: usize| w[map[j]];
            let sub = |a: [f64; 3], b: [f64; 3]| [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
            let up = sub(at(TORSO), at(ROOT));
            let (s, h) = (
                sub(at(L_SHOULDER), at(R_SHOULDER)),
                sub(at(L_HIP), at(R_HIP)),
            );
            let across = [s[0] + h[0], s[1] + h[1], s[2] + h[2]];
            let mut n = [
                up[1] * across[2] - up[2] * across[1],
                up[2] * across[0] - up[0] * across[2],
                up[0] * across[1] - up[1] * across[0],
            ];
            let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
            if len < 1e-9 {
                // No plane (a clip with the body folded flat): the default order.
                return DrawOrder::default();
            }
            let towards_viewer = if n[2] < 0.0 { -1.0 } else { 1.0 };
            for c in &mut n {
                *c *= towards_viewer / len;
            }
            let origin = at(ROOT);
            let depths = std::array::from_fn(|k| {
                let bones = Part::ALL[k + 1].bones();
                let (mid, end) = (at(bones[0]), at(bones[1]));
                let p = sub(
                    [
                        (mid[0] + end[0]) / 2.0,
                        (mid[1] + end[1]) / 2.0,
                        (mid[2] + end[2]) / 2.0,
                    ],
                    origin,
                );
                ((p[0] * n[0] + p[1] * n[1] + p[2] * n[2]) / leg) as f32
            });
            DrawOrder::from_depths(depths, DEPTH_TIE)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::author;

    #[test]
    fn shipped_motions_match_their_author() {
        for m in Motion::ALL {
            let text = bvh::write(&author::clip(m));
            if std::env::var_os("ATELIER_WRITE_MOTIONS").is_some() {
                let path = format!("{}/motions/{}.bvh", env!("CARGO_MANIFEST_DIR"), m.name());
                std::fs::write(path, &text).unwrap();
            } else {
                assert_eq!(m.bvh_text(), text, "motions/{}.bvh is stale", m.name());
            }
        }
    }

    #[test]
    fn every_shipped_motion_parses_and_has_all_joints() {
        for m in Motion::ALL {
            let clip = m.clip().unwrap();
            assert!(clip.frames.len() >= 10, "{m}");
            joint_map(clip).unwrap();
        }
    }

    #[test]
    fn clips_in_the_picture_plane_keep_the_default_order() {
        for m in [Motion::Wave, Motion::Jump, Motion::Dance] {
            let orders = draw_orders(m.clip().unwrap(), 30.0, 48).unwrap();
            assert!(orders.iter().all(|o| *o == DrawOrder::default()), "{m}");
        }
    }

    #[test]
    fn in_a_walk_the_far_arm_and_leg_pass_behind_the_body() {
        for m in [Motion::Walk, Motion::Run] {
            let clip = m.clip().unwrap();
            let orders = draw_orders(clip, 30.0, clip.frames.len()).unwrap();
            // Half the stride the right leg and left arm are near, the left leg and right arm
            // far; the other half the other way round.
            let near_right = orders
                .iter()
                .filter(|o| {
                    !o.is_behind(Part::RightLeg)
                        && o.is_behind(Part::LeftLeg)
                        && o.is_behind(Part::RightArm)
                        && !o.is_behind(Part::LeftArm)
                })
                .count();
            let near_left = orders
                .iter()
                .filter(|o| {
                    o.is_behind(Part::RightLeg)
                        && !o.is_behind(Part::LeftLeg)
                        && !o.is_behind(Part::RightArm)
                        && o.is_behind(Part::LeftArm)
                })
                .count();
            assert!(near_right >= orders.len() / 3, "{m}: {near_right}");
            assert!(near_left >= orders.len() / 3, "{m}: {near_left}");
        }
    }

    /// Channel index of a joint's rotation in the authored clips: the root's six channels
    /// (X/Y/Z position, Z/X/Y rotation), then three (Z/X/Y) per joint.
    fn channel(joint: usize, axis: usize) -> usize {
        if joint == 0 {
            3 + axis
        } else {
            6 + (joint - 1) * 3 + axis
        }
    }

    #[test]
    fn a_limb_is_behind_the_torso_when_its_end_is_behind_the_bodys_plane_as_seen() {
        let mut clip = Motion::Wave.clip().unwrap().clone();
        clip.frames.truncate(1);
        let shoulder = clip.joint("right_shoulder").unwrap();
        let order = |clip: &Bvh| draw_orders(clip, 30.0, 1).unwrap()[0];
        // Tilted away from the viewer: behind; towards the viewer: in front.
        clip.frames[0][channel(shoulder, 1)] = 40.0;
        assert!(order(&clip).is_behind(Part::RightArm));
        clip.frames[0][channel(shoulder, 1)] = -40.0;
        assert!(!order(&clip).is_behind(Part::RightArm));
        // The same pose with the body turned to face away: the arm that reached towards the
        // body's front is now behind it as seen, and the left leg, stepping back, in front.
        let hip = clip.joint("left_hip").unwrap();
        clip.frames[0][channel(hip, 1)] = 30.0;
        assert!(order(&clip).is_behind(Part::LeftLeg));
        clip.frames[0][channel(0, 2)] = 180.0;
        let turned = order(&clip);
        assert!(turned.is_behind(Part::RightArm));
        assert!(!turned.is_behind(Part::LeftLeg));
        // Limbs in the plane keep their sides.
        assert!(turned.is_behind(Part::RightLeg) && !turned.is_behind(Part::LeftArm));
    }

    #[test]
    fn motion_names_parse_and_unknown_names_are_refused() {
        assert_eq!("Dance".parse::<Motion>().unwrap(), Motion::Dance);
        assert_eq!(
            "fly".parse::<Motion>(),
            Err(AnimateError::UnknownMotion("fly".into()))
        );
    }

    fn stick() -> Joints {
        use crate::skeleton::*;
        let mut j = [Point::default(); 16];
        let set = |j: &mut Joints, i: usize, x: f32, y: f32| j[i] = Point::new(x, y);
        set(&mut j, ROOT, 100.0, 120.0);
        set(&mut j, HIP, 100.0, 120.0);
        set(&mut j, TORSO, 100.0, 70.0);
        set(&mut j, NECK, 100.0, 45.0);
        set(&mut j, R_SHOULDER, 85.0, 70.0);
        set(&mut j, R_ELBOW, 70.0, 95.0);
        set(&mut j, R_HAND, 60.0, 118.0);
        set(&mut j, L_SHOULDER, 115.0, 70.0);
        set(&mut j, L_ELBOW, 130.0, 95.0);
        set(&mut j, L_HAND, 140.0, 118.0);
        set(&mut j, R_HIP, 90.0, 122.0);
        set(&mut j, R_KNEE, 85.0, 150.0);
        set(&mut j, R_FOOT, 80.0, 180.0);
        set(&mut j, L_HIP, 110.0, 122.0);
        set(&mut j, L_KNEE, 115.0, 150.0);
        set(&mut j, L_FOOT, 120.0, 180.0);
        j
    }

    #[test]
    fn retargeting_keeps_every_bone_length_and_the_feet_on_the_ground() {
        let rest = stick();
        for m in Motion::ALL {
            let poses = retarget(&rest, m.clip().unwrap(), 30.0, 45).unwrap();
            assert_eq!(poses.len(), 45);
            for p in &poses {
                for c in 1..16 {
                    let par = PARENTS[c].unwrap();
                    let (a, b) = (rest[par].dist(rest[c]), p[par].dist(p[c]));
                    assert!((a - b).abs() < 1e-3, "{m} bone {c}: {a} vs {b}");
                }
                let low = p[R_FOOT].y.max(p[L_FOOT].y);
                if !matches!(m, Motion::Jump | Motion::Run) {
                    assert!((low - 180.0).abs() < 0.01, "{m}: lowest foot at {low}");
                } else {
                    assert!(low <= 180.0 + 1e-3, "{m}: foot below ground at {low}");
                }
            }
            if m == Motion::Jump {
                let highest = poses
                    .iter()
                    .map(|p| p[R_FOOT].y.max(p[L_FOOT].y))
                    .fold(f32::MAX, f32::min);
                assert!(highest < 165.0, "the jump leaves the ground: {highest}");
            }
        }
    }

    #[test]
    fn upper_arms_never_swing_across_the_torso_and_forearms_keep_the_bend() {
        use crate::skeleton::{L_HAND, R_HAND};
        let rest = stick();
        let clip = Motion::Run.clip().unwrap();
        let poses = retarget(&rest, clip, 30.0, clip.frames.len()).unwrap();
        let mut clamped = 0;
        for (f, p) in poses.iter().enumerate() {
            let down = p[HIP] - p[TORSO];
            for (c, side) in [(R_ELBOW, 1.0f32), (L_ELBOW, -1.0)] {
                let d = p[c] - p[PARENTS[c].unwrap()];
                let out = Point::new(-down.y, down.x) * side;
                let phi = d.dot(out).atan2(d.dot(down));
                assert!(
                    phi >= -ARM_INWARD_LIMIT - 1e-3,
                    "frame {f} joint {c}: {phi}"
                );
                clamped += usize::from(phi.abs() < 1e-3);
            }
            // The elbow bend is the clip's: the angle between upper arm and forearm.
            let values = clip.sample(f as f64 / 30.0);
            let w = clip.world_positions(&values);
            let map = joint_map(clip).unwrap();
            for (s, e, h) in [(R_SHOULDER, R_ELBOW, R_HAND), (L_SHOULDER, L_ELBOW, L_HAND)] {
                let at = |i: usize| Point::new(w[map[i]][0] as f32, -(w[map[i]][1] as f32));
                let bend = |a: Point, b: Point, c: Point| {
                    let (u, v) = (b - a, c - b);
                    u.cross(v).atan2(u.dot(v))
                };
                let (want, got) = (bend(at(s), at(e), at(h)), bend(p[s], p[e], p[h]));
                assert!((want - got).abs() < 1e-3, "frame {f}: bend {want} vs {got}");
            }
        }
        // The run clip swings the arms across the chest: the limit did act.
        assert!(clamped > 0);
    }
}
