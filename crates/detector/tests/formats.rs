//! Round trips through every import/export format, exact where the format carries the data, and
//! the typed errors of bad files.

use std::collections::BTreeMap;

use atelier_detector::annotation::video_frame_name;
use atelier_detector::formats::{FormatError, coco, cvat_images, cvat_video, voc, yolo};
use atelier_detector::{
    AnnotationError, Annotations, AttributeSpec, Attributes, BBox, Frame, InputType, KeyFrame,
    Label, Shape, Track,
};

const FRAMES: u32 = 30;

fn labels() -> Vec<Label> {
    let mut car = Label::new("car", "#ff0000");
    car.attributes = vec![
        AttributeSpec {
            name: "colour".into(),
            mutable: false,
            input_type: InputType::Select,
            default_value: "red".into(),
            values: vec!["red".into(), "blue & <green>".into()],
        },
        AttributeSpec {
            name: "moving".into(),
            mutable: true,
            input_type: InputType::Checkbox,
            default_value: "false".into(),
            values: vec!["false".into(), "true".into()],
        },
    ];
    vec![
        car,
        Label::new("person \"p\"", "#00ff7f"),
        Label::new("sign", "#3d3df5"),
    ]
}

fn frames() -> Vec<Frame> {
    (0..FRAMES)
        .map(|n| Frame {
            name: video_frame_name(n),
            width: 320,
            height: 240,
        })
        .collect()
}

fn attrs(pairs: &[(&str, &str)]) -> Attributes {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn tracks() -> BTreeMap<u64, Track> {
    let mut car = Track {
        id: 21,
        label: "car".into(),
        source: "manual".into(),
        attributes: attrs(&[("colour", "blue & <green>")]),
        keyframes: BTreeMap::new(),
    };
    car.keyframes.insert(
        0,
        KeyFrame {
            attributes: attrs(&[("moving", "true")]),
            ..KeyFrame::visible(BBox::new(10.0, 20.0, 60.5, 70.25))
        },
    );
    car.keyframes.insert(
        10,
        KeyFrame {
            occluded: true,
            z_order: 2,
            ..KeyFrame::visible(BBox::new(110.125, 40.0, 170.0, 95.5))
        },
    );
    car.set_outside(15, true);
    car.keyframes
        .insert(20, KeyFrame::visible(BBox::new(200.0, 100.0, 260.0, 150.0)));
    car.keyframes
        .insert(25, KeyFrame::visible(BBox::new(250.0, 170.0, 319.0, 239.0)));
    let mut person = Track {
        id: 27,
        label: "person \"p\"".into(),
        source: "auto".into(),
        attributes: Attributes::new(),
        keyframes: BTreeMap::new(),
    };
    person
        .keyframes
        .insert(3, KeyFrame::visible(BBox::new(0.0, 0.0, 30.0, 90.0)));
    person
        .keyframes
        .insert(13, KeyFrame::visible(BBox::new(33.3, 10.1, 63.3, 100.7)));
    person.set_outside(FRAMES - 1, true);
    [(21, car), (27, person)].into_iter().collect()
}

fn shapes() -> BTreeMap<u64, Shape> {
    let shape =
        |id: u64, label: &str, frame: u32, bbox: BBox, occluded: bool, attributes: Attributes| {
            Shape {
                id,
                label: label.into(),
                frame,
                bbox,
                occluded,
                z_order: 0,
                source: "manual".into(),
                attributes,
            }
        };
    [
        shape(
            1,
            "sign",
            0,
            BBox::new(5.5, 6.25, 40.0, 41.0),
            false,
            Attributes::new(),
        ),
        shape(
            2,
            "car",
            0,
            BBox::new(100.0, 100.0, 320.0, 240.0),
            true,
            attrs(&[("colour", "red"), ("moving", "false")]),
        ),
        shape(
            3,
            "sign",
            4,
            BBox::new(0.1, 0.2, 0.30000000000000004, 17.7),
            false,
            Attributes::new(),
        ),
        shape(
            4,
            "person \"p\"",
            29,
            BBox::new(1.0, 2.0, 3.0, 4.0),
            false,
            Attributes::new(),
        ),
    ]
    .into_iter()
    .map(|s| (s.id, s))
    .collect()
}

fn doc(with_tracks: bool, with_shapes: bool) -> Annotations {
    let mut d = Annotations::new("round <trip> & back", labels(), frames()).expect("doc");
    if with_tracks {
        d.tracks = tracks();
    }
    if with_shapes {
        d.shapes = shapes();
    }
    d.validate().expect("valid test document");
    d
}

/// What each frame shows: (label, box, occluded, attributes), sorted.
type Visible = Vec<Vec<(String, BBox, bool, Attributes)>>;

fn visible(d: &Annotations) -> Visible {
    (0..d.frames.len() as u32)
        .map(|f| {
            let mut v: Vec<_> = d
                .boxes_on(f)
                .into_iter()
                .map(|b| (b.label, b.bbox, b.occluded, b.attributes))
                .collect();
            v.sort_by(|a, b| {
                (&a.0, a.1.xtl, a.1.ytl)
                    .partial_cmp(&(&b.0, b.1.xtl, b.1.ytl))
                    .expect("finite")
            });
            v
        })
        .collect()
}

fn close(a: &BBox, b: &BBox) -> bool {
    [
        (a.xtl, b.xtl),
        (a.ytl, b.ytl),
        (a.xbr, b.xbr),
        (a.ybr, b.ybr),
    ]
    .iter()
    .all(|(x, y)| (x - y).abs() <= 1e-9)
}

fn assert_visible_close(a: &Visible, b: &Visible, with_flags: bool) {
    assert_eq!(a.len(), b.len(), "frame count");
    for (f, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.len(), y.len(), "frame {f}: {x:?} vs {y:?}");
        for (p, q) in x.iter().zip(y) {
            assert_eq!(p.0, q.0, "frame {f}");
            assert!(close(&p.1, &q.1), "frame {f}: {:?} vs {:?}", p.1, q.1);
            if with_flags {
                assert_eq!((p.2, &p.3), (q.2, &q.3), "frame {f}");
            }
        }
    }
}

#[test]
fn cvat_video_round_trips_tracks_exactly() {
    let d = doc(true, false);
    let xml = cvat_video::write(&d);
    assert!(
        xml.contains("<version>1.1</version>") && xml.contains("keyframe=\"0\""),
        "{xml}"
    );
    let back = cvat_video::read(&xml).expect("read");
    assert_eq!(back, d);
}

#[test]
fn cvat_video_turns_shapes_into_tracks_that_show_the_same_boxes() {
    let d = doc(true, true);
    let back = cvat_video::read(&cvat_video::write(&d)).expect("read");
    assert_eq!(visible(&back), visible(&d));
    assert_eq!(back.tracks.len(), 6);
    assert_eq!(back.labels, d.labels);
}

#[test]
fn cvat_images_round_trips_shapes_exactly_and_tracks_as_boxes() {
    let d = doc(false, true);
    let back = cvat_images::read(&cvat_images::write(&d)).expect("read");
    assert_eq!(back, d);
    let d = doc(true, true);
    let back = cvat_images::read(&cvat_images::write(&d)).expect("read");
    assert_eq!(visible(&back), visible(&d));
    assert!(back.tracks.is_empty());
}

#[test]
fn coco_round_trips_tracks_through_track_id_and_keyframe() {
    let d = doc(true, true);
    let json = coco::write(&d);
    let back = coco::read(&json).expect("read");
    assert_visible_close(&visible(&back), &visible(&d), true);
    let names = |d: &Annotations| d.labels.iter().map(|l| l.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&back), names(&d));
    assert_eq!(back.frames, d.frames);
    assert_eq!(
        back.tracks.keys().collect::<Vec<_>>(),
        d.tracks.keys().collect::<Vec<_>>()
    );
    for (id, t) in &d.tracks {
        let b = &back.tracks[id];
        assert_eq!(
            b.keyframes.keys().collect::<Vec<_>>(),
            t.keyframes.keys().collect::<Vec<_>>(),
            "track {id}"
        );
        for (f, k) in &t.keyframes {
            let kb = &b.keyframes[f];
            assert_eq!(
                (kb.outside, kb.occluded),
                (k.outside, k.occluded),
                "track {id} frame {f}"
            );
            assert!(
                close(&kb.bbox, &k.bbox),
                "track {id} frame {f}: {:?} vs {:?}",
                kb.bbox,
                k.bbox
            );
        }
    }
    assert_eq!(back.shapes.len(), d.shapes.len());
}

#[test]
fn yolo_round_trips_labels_and_boxes() {
    let d = doc(true, true);
    let files = yolo::write(&d);
    assert!(
        files
            .iter()
            .any(|f| f.path == "obj_train_data/frame_000004.txt")
    );
    let back = yolo::read(&files, &d.frames).expect("read");
    assert_visible_close(&visible(&back), &visible(&d), false);
    assert_eq!(
        back.labels.iter().map(|l| &l.name).collect::<Vec<_>>(),
        d.labels.iter().map(|l| &l.name).collect::<Vec<_>>()
    );
}

#[test]
fn voc_round_trips_boxes_flags_attributes_and_colours() {
    let d = doc(true, true);
    let back = voc::read(&voc::write(&d)).expect("read");
    assert_eq!(back.frames, d.frames);
    assert_eq!(visible(&back), visible(&d));
    let colours = |d: &Annotations| {
        d.labels
            .iter()
            .map(|l| (l.name.clone(), l.color.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(colours(&back), colours(&d));
}

#[test]
fn a_box_outside_the_frame_is_a_typed_error() {
    let xml = cvat_images::write(&doc(false, true)).replace("xbr=\"320\"", "xbr=\"321\"");
    match cvat_images::read(&xml) {
        Err(FormatError::Annotation(AnnotationError::BoxOutsideFrame {
            width: 320,
            height: 240,
            frame: 0,
            ..
        })) => {}
        other => panic!("{other:?}"),
    }
    let mut json: serde_json::Value =
        serde_json::from_str(&coco::write(&doc(false, true))).expect("json");
    json["annotations"][0]["bbox"][0] = serde_json::json!(-5.0);
    assert!(matches!(
        coco::read(&json.to_string()),
        Err(FormatError::Annotation(
            AnnotationError::BoxOutsideFrame { .. }
        ))
    ));
}

#[test]
fn an_unknown_label_is_a_typed_error() {
    let xml = cvat_video::write(&doc(true, false)).replace("label=\"car\"", "label=\"truck\"");
    assert_eq!(
        cvat_video::read(&xml),
        Err(FormatError::Annotation(AnnotationError::UnknownLabel(
            "truck".into()
        )))
    );
    let mut files = voc::write(&doc(false, true));
    for f in &mut files {
        f.bytes = String::from_utf8(f.bytes.clone())
            .expect("utf8")
            .replace("<name>sign</name>", "<name>stop</name>")
            .into_bytes();
    }
    assert_eq!(
        voc::read(&files),
        Err(FormatError::Annotation(AnnotationError::UnknownLabel(
            "stop".into()
        )))
    );
    let mut files = yolo::write(&doc(false, true));
    for f in &mut files {
        if f.path == "obj_train_data/frame_000000.txt" {
            f.bytes = b"9 0.5 0.5 0.1 0.1\n".to_vec();
        }
    }
    assert!(matches!(
        yolo::read(&files, &frames()),
        Err(FormatError::Invalid { .. })
    ));
}

#[test]
fn malformed_files_and_unknown_images_are_reported() {
    assert!(matches!(
        cvat_video::read("<annotations><meta>"),
        Err(FormatError::Parse { .. })
    ));
    assert!(matches!(
        coco::read("{\"images\": 3}"),
        Err(FormatError::Parse { .. })
    ));
    let mut json: serde_json::Value =
        serde_json::from_str(&coco::write(&doc(false, true))).expect("json");
    json["annotations"][0]["image_id"] = serde_json::json!(999);
    assert_eq!(
        coco::read(&json.to_string()),
        Err(FormatError::UnknownImage {
            format: "COCO 1.0",
            name: "999".into()
        })
    );
    let files = yolo::write(&doc(false, true));
    assert!(matches!(
        yolo::read(&files, &frames()[..3]),
        Err(FormatError::UnknownImage { .. })
    ));
    let polygon =
        cvat_images::write(&doc(false, true)).replacen("<box ", "<polygon points=\"0,0;1,1\" ", 1);
    assert!(matches!(
        cvat_images::read(&polygon),
        Err(FormatError::Invalid { .. }) | Err(FormatError::Parse { .. })
    ));
}
