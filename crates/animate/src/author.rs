//! How the shipped BVH motions were made: procedural, hand-tuned curves over one loop of
//! each motion, written as BVH text. The `shipped_motions_match_their_author` test keeps
//! `motions/*.bvh` in step; run it with `ATELIER_WRITE_MOTIONS=1` to rewrite them.

use std::f64::consts::TAU;

use crate::bvh::{Bvh, BvhJoint, Channel};
use crate::motion::Motion;

/// Rest skeleton (centimetres, y up, facing +z; the character's right is -x).
fn skeleton() -> Vec<BvhJoint> {
    use Channel::*;
    let rot = vec![Zrotation, Xrotation, Yrotation];
    let j = |name: &str, parent: Option<usize>, offset: [f64; 3], end: Option<[f64; 3]>| BvhJoint {
        name: name.into(),
        parent,
        offset,
        channels: if parent.is_none() {
            vec![
                Xposition, Yposition, Zposition, Zrotation, Xrotation, Yrotation,
            ]
        } else {
            rot.clone()
        },
        end_site: end,
    };
    vec![
        j("root", None, [0.0, 0.0, 0.0], None),
        j("hip", Some(0), [0.0, 0.0, 0.0], None),
        j("torso", Some(1), [0.0, 45.0, 0.0], None),
        j("neck", Some(2), [0.0, 22.0, 0.0], Some([0.0, 12.0, 0.0])),
        j("right_shoulder", Some(2), [-16.0, 0.0, 0.0], None),
        j("right_elbow", Some(4), [0.0, -27.0, 0.0], None),
        j(
            "right_hand",
            Some(5),
            [0.0, -25.0, 0.0],
            Some([0.0, -8.0, 0.0]),
        ),
        j("left_shoulder", Some(2), [16.0, 0.0, 0.0], None),
        j("left_elbow", Some(7), [0.0, -27.0, 0.0], None),
        j(
            "left_hand",
            Some(8),
            [0.0, -25.0, 0.0],
            Some([0.0, -8.0, 0.0]),
        ),
        j("right_hip", Some(0), [-9.0, 0.0, 0.0], None),
        j("right_knee", Some(10), [0.0, -42.0, 0.0], None),
        j(
            "right_foot",
            Some(11),
            [0.0, -42.0, 0.0],
            Some([0.0, 0.0, 10.0]),
        ),
        j("left_hip", Some(0), [9.0, 0.0, 0.0], None),
        j("left_knee", Some(13), [0.0, -42.0, 0.0], None),
        j(
            "left_foot",
            Some(14),
            [0.0, -42.0, 0.0],
            Some([0.0, 0.0, 10.0]),
        ),
    ]
}

/// In-plane (z) angles in degrees for each joint, root x, and how high the lower foot is
/// off the ground, at phase `t` ∈ [0, 1); and tilts out of the picture plane (x angles in
/// degrees, positive = the limb's end goes away from the viewer) that say which limb passes
/// behind the body. A tilt keeps a limb's direction in the picture (a forearm's or shin's bend
/// projects a little flatter); the retarget keeps the drawn bone lengths, so the depth serves
/// only to order the parts.
struct Pose {
    root: [f64; 2],
    z: [f64; 16],
    x: [f64; 16],
}

/// Ground contact while authoring: the root height that puts the lower foot `lift` above y = 0.
fn ground(joints: &[BvhJoint], row: &mut [f64], lift: f64) {
    let b = Bvh {
        joints: joints.to_vec(),
        frame_time: 1.0,
        frames: Vec::new(),
    };
    row[1] = 0.0;
    let w = b.world_positions(row);
    let low = w[12][1].min(w[15][1]);
    row[1] = lift - low;
}

fn s(t: f64, k: f64, ph: f64) -> f64 {
    (TAU * (k * t + ph)).sin()
}

fn pose(m: Motion, t: f64) -> Pose {
    let mut z = [0.0; 16];
    let mut x = [0.0; 16];
    let mut root = [0.0, 0.0];
    match m {
        Motion::Walk => {
            let w = s(t, 1.0, 0.0);
            z[10] = 24.0 * w; // right hip swings
            z[13] = -24.0 * w;
            z[11] = -(28.0 * s(t, 1.0, 0.25)).max(0.0) - 4.0; // knees bend backwards
            z[14] = -(28.0 * s(t, 1.0, 0.75)).max(0.0) - 4.0;
            z[4] = -18.0 * w - 8.0; // arms swing against the legs
            z[7] = 18.0 * w + 8.0;
            z[5] = 12.0;
            z[8] = -12.0;
            z[2] = 3.0 * s(t, 2.0, 0.0);
            // The stride in depth: as the legs scissor inwards (w > 0) the right leg steps
            // towards the viewer and the left behind the body, the arms the other way round;
            // half a step later the far arm and leg are the other two.
            x[10] = -20.0 * w;
            x[13] = 20.0 * w;
            x[4] = 20.0 * w;
            x[7] = -20.0 * w;
        }
        Motion::Run => {
            let w = s(t, 1.0, 0.0);
            z[10] = 38.0 * w;
            z[13] = -38.0 * w;
            z[11] = -(55.0 * s(t, 1.0, 0.25)).max(0.0) - 15.0;
            z[14] = -(55.0 * s(t, 1.0, 0.75)).max(0.0) - 15.0;
            z[4] = -40.0 * w - 12.0;
            z[7] = 40.0 * w + 12.0;
            z[5] = 70.0;
            z[8] = -70.0;
            z[1] = 6.0;
            root[1] = 4.0 * s(t, 2.0, 0.0).max(0.0);
            // As in the walk: the far arm and leg behind the body.
            x[10] = -30.0 * w;
            x[13] = 30.0 * w;
            x[4] = 30.0 * w;
            x[7] = -30.0 * w;
        }
        Motion::Wave => {
            let w = s(t, 2.0, 0.0);
            z[4] = -140.0 + 6.0 * s(t, 1.0, 0.0); // right arm up and out
            z[5] = -25.0 + 30.0 * w; // forearm waves
            z[6] = 10.0 * w;
            z[7] = 12.0;
            z[8] = -6.0;
            z[2] = 4.0 * s(t, 1.0, 0.25);
            z[3] = -6.0 * s(t, 1.0, 0.25);
        }
        Motion::Jump => {
            // 0–0.3 crouch, 0.3–0.7 in the air, 0.7–1 land and stand up.
            let crouch = if t < 0.3 {
                (t / 0.3 * std::f64::consts::PI).sin()
            } else if t > 0.7 {
                ((t - 0.7) / 0.3 * std::f64::consts::PI).sin()
            } else {
                0.0
            };
            let air = if (0.3..0.7).contains(&t) {
                ((t - 0.3) / 0.4 * std::f64::consts::PI).sin()
            } else {
                0.0
            };
            z[10] = -35.0 * crouch - 10.0 * air; // knees out, feet back under the hips
            z[13] = 35.0 * crouch + 10.0 * air;
            z[11] = 70.0 * crouch + 20.0 * air;
            z[14] = -70.0 * crouch - 20.0 * air;
            z[4] = -150.0 * air - 20.0 * crouch - 10.0;
            z[7] = 150.0 * air + 20.0 * crouch + 10.0;
            z[5] = -20.0 * air;
            z[8] = 20.0 * air;
            root[1] = 35.0 * air;
        }
        Motion::Dance => {
            let a = s(t, 1.0, 0.0);
            let b = s(t, 2.0, 0.0);
            root[0] = 8.0 * a;
            z[0] = 6.0 * a;
            z[2] = -10.0 * a;
            z[3] = 8.0 * a;
            z[4] = -100.0 - 40.0 * a;
            z[5] = -40.0 + 30.0 * b;
            z[7] = 100.0 - 40.0 * a;
            z[8] = 40.0 + 30.0 * b;
            z[10] = -6.0 * a + 10.0 * b.max(0.0);
            z[11] = -25.0 * b.max(0.0);
            z[13] = -6.0 * a - 10.0 * (-b).max(0.0);
            z[14] = 25.0 * (-b).max(0.0);
        }
    }
    Pose { root, z, x }
}

/// Loop length in seconds.
fn period(m: Motion) -> f64 {
    match m {
        Motion::Walk => 1.0,
        Motion::Run => 0.6,
        Motion::Wave => 1.0,
        Motion::Jump => 1.2,
        Motion::Dance => 1.6,
    }
}

/// The clip for a motion at 30 frames per second.
pub fn clip(m: Motion) -> Bvh {
    let joints = skeleton();
    let fps = 30.0;
    let n = (period(m) * fps).round() as usize;
    let frames = (0..n)
        .map(|f| {
            let p = pose(m, f as f64 / n as f64);
            let mut row = vec![p.root[0], p.root[1], 0.0];
            // Channels Zrotation, Xrotation, Yrotation per joint.
            row.extend(
                p.z.iter()
                    .zip(&p.x)
                    .take(joints.len())
                    .flat_map(|(&z, &x)| [z, x, 0.0]),
            );
            ground(&joints, &mut row, p.root[1]);
            row
        })
        .collect();
    Bvh {
        joints,
        frame_time: 1.0 / fps,
        frames,
    }
}
