//! Strokes: what a client sends, the limits it is checked against, and the normalised form kept in
//! the log. Pure: no I/O.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{PlatformError, PlatformResult};

/// Limits on strokes (configurable; the defaults suit a phone canvas).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StrokeLimits {
    /// Most points in one stroke.
    pub max_points: usize,
    /// Most strokes in one drawing (undone ones count).
    pub max_strokes: usize,
    /// Thinnest line, in canvas pixels.
    pub min_width: f32,
    /// Widest line, in canvas pixels.
    pub max_width: f32,
    /// Most ink in one stroke: its summed segment length plus one width (the caps), times its
    /// width, in square canvas pixels — what painting it costs.
    pub max_ink_per_stroke: f64,
    /// Most ink in one drawing (undone strokes count), so rendering it at submit is bounded.
    pub max_ink_per_drawing: i64,
    /// Drawings rendered at once by this process (submits without a client image).
    pub max_concurrent_renders: usize,
    /// How long a submit waits for a render slot before answering 503 with `Retry-After`.
    pub render_wait: std::time::Duration,
}

impl Default for StrokeLimits {
    fn default() -> Self {
        Self {
            max_points: 2000,
            max_strokes: 10_000,
            min_width: 0.5,
            max_width: 200.0,
            max_ink_per_stroke: 4_000_000.0,
            max_ink_per_drawing: 64_000_000,
            max_concurrent_renders: 2,
            render_wait: std::time::Duration::from_secs(10),
        }
    }
}

/// The drawing tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    /// An opaque round pen.
    Pen,
    /// A marker: drawn at half opacity.
    Marker,
    /// Paints the background colour.
    Eraser,
}

/// A stroke as a client sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct StrokeInput {
    /// The client's id for this stroke (1–64 characters of `A-Za-z0-9_-.:`); a retry with the
    /// same id is answered with the first result.
    #[serde(alias = "client_stroke_id", alias = "stroke_id")]
    pub client_id: String,
    /// Points `[x, y]` in canvas pixels (1 to `max_points`).
    #[schema(value_type = Vec<Vec<f32>>)]
    pub points: Vec<[f32; 2]>,
    /// `#rrggbb` or `#rrggbbaa`.
    #[serde(alias = "colour")]
    pub color: String,
    /// Line width in canvas pixels.
    pub width: f32,
    /// Pen (default), marker or eraser.
    #[serde(default)]
    pub tool: Option<Tool>,
    /// LittleStudio's eraser flag (same as `tool: "eraser"`).
    #[serde(default)]
    pub eraser: bool,
}

/// A validated stroke, as stored in the log and sent to subscribers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Stroke {
    /// Points `[x, y]` in canvas pixels, clamped to the canvas.
    #[schema(value_type = Vec<Vec<f32>>)]
    pub points: Vec<[f32; 2]>,
    /// `#rrggbbaa`, lowercase.
    pub color: String,
    /// Line width in canvas pixels.
    pub width: f32,
    /// The tool.
    pub tool: Tool,
    /// Whether it erases.
    pub eraser: bool,
}

/// Parses `#rrggbb` / `#rrggbbaa` into RGBA.
pub fn parse_color(text: &str) -> Option<[u8; 4]> {
    let hex = text.strip_prefix('#')?;
    if !(hex.len() == 6 || hex.len() == 8) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([
        byte(0)?,
        byte(2)?,
        byte(4)?,
        if hex.len() == 8 { byte(6)? } else { 255 },
    ])
}

/// Checks a client id (1–64 characters of `A-Za-z0-9_-.:`).
pub fn validate_client_id(id: &str) -> PlatformResult<String> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
    if ok {
        Ok(id.to_owned())
    } else {
        Err(PlatformError::Invalid(
            "client_id must be 1–64 characters of letters, digits, '_', '-', '.' or ':'".into(),
        ))
    }
}

/// The ink of a stroke: (summed segment length + width) × width, in square canvas pixels.
pub fn ink(stroke: &Stroke) -> f64 {
    let length: f64 = stroke
        .points
        .windows(2)
        .map(|pair| {
            let dx = f64::from(pair[1][0] - pair[0][0]);
            let dy = f64::from(pair[1][1] - pair[0][1]);
            (dx * dx + dy * dy).sqrt()
        })
        .sum();
    let width = f64::from(stroke.width);
    (length + width) * width
}

/// Validates and normalises a stroke for a `width × height` canvas.
pub fn validate(
    input: StrokeInput,
    limits: &StrokeLimits,
    width: i64,
    height: i64,
) -> PlatformResult<(String, Stroke)> {
    let client_id = validate_client_id(&input.client_id)?;
    if input.points.is_empty() || input.points.len() > limits.max_points {
        return Err(PlatformError::Invalid(format!(
            "a stroke has 1–{} points",
            limits.max_points
        )));
    }
    if !input.width.is_finite() || input.width < limits.min_width || input.width > limits.max_width
    {
        return Err(PlatformError::Invalid(format!(
            "width must be {}–{} pixels",
            limits.min_width, limits.max_width
        )));
    }
    let rgba = parse_color(&input.color)
        .ok_or_else(|| PlatformError::Invalid("color must be #rrggbb or #rrggbbaa".into()))?;
    if input.points.iter().flatten().any(|v| !v.is_finite()) {
        return Err(PlatformError::Invalid(
            "points must be finite numbers".into(),
        ));
    }
    let (w, h) = (width as f32, height as f32);
    let points = input
        .points
        .iter()
        .map(|[x, y]| [x.clamp(0.0, w), y.clamp(0.0, h)])
        .collect();
    let tool = match (input.tool, input.eraser) {
        (_, true) => Tool::Eraser,
        (Some(tool), false) => tool,
        (None, false) => Tool::Pen,
    };
    let stroke = Stroke {
        points,
        color: format!(
            "#{:02x}{:02x}{:02x}{:02x}",
            rgba[0], rgba[1], rgba[2], rgba[3]
        ),
        width: input.width,
        tool,
        eraser: tool == Tool::Eraser,
    };
    let ink = ink(&stroke);
    if ink > limits.max_ink_per_stroke {
        return Err(PlatformError::Invalid(format!(
            "the stroke holds {ink:.0} square pixels of ink (length × width); the limit is {:.0}",
            limits.max_ink_per_stroke
        )));
    }
    Ok((client_id, stroke))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(points: Vec<[f32; 2]>) -> StrokeInput {
        StrokeInput {
            client_id: "s-1".into(),
            points,
            color: "#FF0000".into(),
            width: 4.0,
            tool: None,
            eraser: false,
        }
    }

    #[test]
    fn a_long_wide_stroke_is_refused_for_its_ink() {
        // The audit's stroke: 300 points zigzagging across a 4096² canvas at width 200.
        let points = (0..300)
            .map(|i| [if i % 2 == 0 { 0.0 } else { 4096.0 }, (i * 13) as f32])
            .collect();
        let mut wide = input(points);
        wide.width = 200.0;
        let err = validate(wide, &StrokeLimits::default(), 4096, 4096).expect_err("too much ink");
        assert!(err.to_string().contains("ink"), "{err}");
        let (_, ordinary) = validate(
            input(vec![[0.0, 0.0], [300.0, 400.0]]),
            &StrokeLimits::default(),
            1000,
            1000,
        )
        .expect("an ordinary stroke");
        assert_eq!(ink(&ordinary), (500.0 + 4.0) * 4.0);
    }

    #[test]
    fn a_valid_stroke_is_normalised() {
        let (id, stroke) = validate(
            input(vec![[-5.0, 10.0], [200.0, 20.0]]),
            &StrokeLimits::default(),
            100,
            100,
        )
        .expect("valid");
        assert_eq!(id, "s-1");
        assert_eq!(stroke.color, "#ff0000ff");
        assert_eq!(
            stroke.points,
            vec![[0.0, 10.0], [100.0, 20.0]],
            "clamped to the canvas"
        );
        assert_eq!(stroke.tool, Tool::Pen);
    }

    #[test]
    fn limits_are_enforced() {
        let limits = StrokeLimits {
            max_points: 3,
            ..StrokeLimits::default()
        };
        assert!(validate(input(vec![]), &limits, 100, 100).is_err());
        assert!(validate(input(vec![[1.0, 1.0]; 4]), &limits, 100, 100).is_err());
        let mut wide = input(vec![[1.0, 1.0]]);
        wide.width = 500.0;
        assert!(validate(wide, &limits, 100, 100).is_err());
        let mut nan = input(vec![[f32::NAN, 1.0]]);
        nan.client_id = "x".into();
        assert!(validate(nan, &limits, 100, 100).is_err());
        let mut bad_colour = input(vec![[1.0, 1.0]]);
        bad_colour.color = "red".into();
        assert!(validate(bad_colour, &limits, 100, 100).is_err());
        let mut bad_id = input(vec![[1.0, 1.0]]);
        bad_id.client_id = "has space".into();
        assert!(validate(bad_id, &limits, 100, 100).is_err());
    }

    #[test]
    fn the_eraser_flag_wins_over_the_tool() {
        let mut erase = input(vec![[1.0, 1.0]]);
        erase.eraser = true;
        erase.tool = Some(Tool::Marker);
        let (_, stroke) = validate(erase, &StrokeLimits::default(), 10, 10).expect("valid");
        assert_eq!(stroke.tool, Tool::Eraser);
        assert!(stroke.eraser);
    }

    #[test]
    fn colours_parse_with_optional_alpha() {
        assert_eq!(parse_color("#0a0B0c"), Some([10, 11, 12, 255]));
        assert_eq!(parse_color("#0a0b0c80"), Some([10, 11, 12, 128]));
        assert_eq!(parse_color("0a0b0c"), None);
        assert_eq!(parse_color("#0a0b0"), None);
        assert_eq!(parse_color("#zzzzzz"), None);
    }
}
