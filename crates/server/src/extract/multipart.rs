//! The multipart toolkit every form route uses: parts read by name (an unknown part is refused
//! with 422 `unknown-part` naming the accepted ones), one error mapper (a body over the limit is
//! 413, a malformed one 400), size-capped readers, shared parsers for numbers and `formats`, and
//! text fields merged with the query string into one typed parameter set (the query wins when
//! both name a parameter).

use std::{collections::BTreeMap, str::FromStr};

use atelier_platform::{
    Platform, PlatformError,
    uploads::{self, Upload},
};
use axum::{
    extract::{
        FromRequest, Multipart, Request,
        multipart::{Field, MultipartError, MultipartRejection},
    },
    http::StatusCode,
};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// Largest text field (parameters, titles, joints) read from a form.
pub const MAX_TEXT_FIELD_BYTES: u64 = 64 * 1024;

/// A `multipart/form-data` body, with atelier's error body when the request is not one.
pub struct MultipartForm(pub Multipart);

impl<S: Send + Sync> FromRequest<S> for MultipartForm {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Multipart::from_request(request, state)
            .await
            .map(MultipartForm)
            .map_err(|rejection: MultipartRejection| {
                ApiError::bad_request("expected-multipart", rejection.body_text())
            })
    }
}

/// A multipart body read part by part, each part by its name.
pub struct NamedParts {
    form: Multipart,
    accepted: &'static [&'static str],
    body_limit: u64,
}

impl NamedParts {
    /// Reads `form`, accepting only parts named in `accepted`; `body_limit` is the size a
    /// too-large body is reported against.
    pub fn new(form: MultipartForm, accepted: &'static [&'static str], body_limit: u64) -> Self {
        Self {
            form: form.0,
            accepted,
            body_limit,
        }
    }

    /// The next part and its name; `None` at the end of the form.
    pub async fn next(&mut self) -> ApiResult<Option<(String, Part<'_>)>> {
        let Some(field) = self
            .form
            .next_field()
            .await
            .map_err(|err| multipart_error(err, self.body_limit))?
        else {
            return Ok(None);
        };
        let name = field.name().unwrap_or_default().to_owned();
        if !self.accepted.contains(&name.as_str()) {
            return Err(unknown_part(&name, self.accepted));
        }
        let part = Part {
            field,
            body_limit: self.body_limit,
        };
        Ok(Some((name, part)))
    }
}

/// One named part of a [`NamedParts`] form, read as bytes or as text.
pub struct Part<'a> {
    field: Field<'a>,
    body_limit: u64,
}

impl Part<'_> {
    /// The file name the client gave, if any.
    pub fn file_name(&self) -> Option<&str> {
        self.field.file_name()
    }

    /// The content type the client gave, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.field.content_type()
    }

    /// Reads the part into memory, refusing it with 413 once it passes `limit` bytes.
    pub async fn bytes(&mut self, limit: u64) -> ApiResult<Vec<u8>> {
        let mut bytes = Vec::new();
        while let Some(chunk) = self
            .field
            .chunk()
            .await
            .map_err(|err| multipart_error(err, self.body_limit))?
        {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(PlatformError::PayloadTooLarge { limit }.into());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// Streams a file part into the platform's validating ingest as an upload of `owner_id`.
    pub async fn ingest(self, platform: &Platform, owner_id: i64) -> ApiResult<Upload> {
        let filename = self.field.file_name().map(str::to_owned);
        let stream = Box::pin(self.field);
        Ok(uploads::ingest(platform, owner_id, stream, filename).await?)
    }

    /// Reads a text part (at most [`MAX_TEXT_FIELD_BYTES`]), trimmed of surrounding whitespace.
    pub async fn text(mut self) -> ApiResult<String> {
        let bytes = self.bytes(MAX_TEXT_FIELD_BYTES).await?;
        let text = String::from_utf8(bytes).map_err(|_| {
            ApiError::bad_request("bad-multipart", "a text field is not UTF-8 text")
        })?;
        Ok(text.trim().to_owned())
    }
}

/// 422 `unknown-part`, naming the parts the route accepts.
pub fn unknown_part(name: &str, accepted: &[&str]) -> ApiError {
    let shown = if name.is_empty() { "(unnamed)" } else { name };
    ApiError::Unprocessable {
        code: "unknown-part",
        message: format!(
            "this form has no part named {shown:?}; it accepts {}",
            accepted.join(", ")
        ),
    }
}

/// Maps a multipart error: an over-size body is 413 (reported against `limit`), anything else a
/// malformed body (400 `bad-multipart`).
pub fn multipart_error(err: MultipartError, limit: u64) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        PlatformError::PayloadTooLarge { limit }.into()
    } else {
        ApiError::bad_request("bad-multipart", err.body_text())
    }
}

/// Parses a finite number parameter of type `T`, refusing anything else with 422
/// `invalid-parameters`.
pub fn parse_number<T: FromStr>(name: &str, text: &str) -> ApiResult<T> {
    let text = text.trim();
    let bad = || ApiError::Unprocessable {
        code: "invalid-parameters",
        message: format!("`{name}` is not a number: {text:?}"),
    };
    if !text.parse::<f64>().is_ok_and(f64::is_finite) {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}

/// Parses `formats=mp4,gif`: lower-cased, trimmed, empty items dropped, repeats removed
/// (first occurrence kept).
pub fn parse_formats(text: &str) -> Vec<String> {
    let mut list: Vec<String> = Vec::new();
    for format in text.split(',').map(|f| f.trim().to_ascii_lowercase()) {
        if !format.is_empty() && !list.contains(&format) {
            list.push(format);
        }
    }
    list
}

/// Text fields of a form that double as query parameters.
#[derive(Debug, Default)]
pub struct FieldParams(BTreeMap<String, String>);

impl FieldParams {
    /// Records a field (a repeated field keeps its last value).
    pub fn insert(&mut self, name: String, value: String) {
        self.0.insert(name, value);
    }

    /// The parameters of `raw_query` and of these fields as one typed set: a parameter named in
    /// both takes the query's value. A value of the wrong type is 400 `bad-query`.
    pub fn merged_with<T: DeserializeOwned>(self, raw_query: Option<&str>) -> ApiResult<T> {
        let query: Vec<(String, String)> = serde_urlencoded::from_str(raw_query.unwrap_or(""))
            .map_err(|err| ApiError::bad_request("bad-query", err.to_string()))?;
        let mut merged = self.0;
        for (name, value) in query {
            merged.insert(name, value);
        }
        let encoded =
            serde_urlencoded::to_string(&merged).map_err(|err| ApiError::Internal(err.into()))?;
        serde_urlencoded::from_str(&encoded).map_err(|err| {
            ApiError::bad_request(
                "bad-query",
                format!("Failed to deserialize parameters: {err}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Params {
        cascade: Option<String>,
        scale_factor: Option<f64>,
    }

    #[test]
    fn fields_and_query_merge_and_the_query_wins() {
        let mut fields = FieldParams::default();
        fields.insert("cascade".into(), "eye".into());
        fields.insert("scale_factor".into(), "1.2".into());
        let merged: Params = fields
            .merged_with(Some("scale_factor=1.5"))
            .expect("merged");
        assert_eq!(
            merged,
            Params {
                cascade: Some("eye".into()),
                scale_factor: Some(1.5)
            }
        );
    }

    #[test]
    fn a_bad_value_is_a_bad_query() {
        let mut fields = FieldParams::default();
        fields.insert("scale_factor".into(), "big".into());
        let err = fields.merged_with::<Params>(None).expect_err("refused");
        assert_eq!(err.status_and_code().1, "bad-query");
    }

    #[test]
    fn numbers_are_finite_and_of_their_type() {
        assert_eq!(parse_number::<u32>("fps", " 12 ").ok(), Some(12));
        assert_eq!(parse_number::<f32>("duration_s", "2.5").ok(), Some(2.5));
        for bad in ["NaN", "inf", "1.5e400", "twelve"] {
            let err = parse_number::<f64>("x", bad).expect_err(bad);
            assert_eq!(err.status_and_code().1, "invalid-parameters");
        }
        assert!(parse_number::<u32>("fps", "2.5").is_err());
    }

    #[test]
    fn formats_are_normalised_and_deduplicated() {
        assert_eq!(parse_formats(" MP4, gif,,mp4 ,GIF"), vec!["mp4", "gif"]);
    }

    #[test]
    fn unknown_parts_name_the_accepted_ones() {
        let err = unknown_part("cascade_xmll", &["file", "cascade_xml"]);
        assert_eq!(err.status_and_code().1, "unknown-part");
        assert!(err.to_string().contains("file, cascade_xml"));
    }
}
