//! Pusher's two signatures, both HMAC-SHA256 with the app secret, hex-encoded:
//! - channel authorisation: `key:HMAC(secret, "socket_id:channel[:channel_data]")`;
//! - HTTP API requests: `HMAC(secret, "METHOD\nPATH\nsorted_query")` with `auth_key`,
//!   `auth_timestamp` (±600 s), `auth_version=1.0` and `body_md5` in the query.
//!
//! Pure: no I/O.

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

/// How far `auth_timestamp` may be from the server's clock, in seconds.
pub const TIMESTAMP_WINDOW_SECS: i64 = 600;

fn mac(secret: &str, message: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(message.as_bytes());
    mac
}

/// Hex HMAC-SHA256 of `message`.
pub fn hmac_hex(secret: &str, message: &str) -> String {
    hex::encode(mac(secret, message).finalize().into_bytes())
}

/// The string a channel authorisation signs.
pub fn channel_auth_message(socket_id: &str, channel: &str, channel_data: Option<&str>) -> String {
    match channel_data {
        Some(data) => format!("{socket_id}:{channel}:{data}"),
        None => format!("{socket_id}:{channel}"),
    }
}

/// The `auth` value for a subscription: `key:signature`.
pub fn sign_channel(
    key: &str,
    secret: &str,
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
) -> String {
    let signature = hmac_hex(
        secret,
        &channel_auth_message(socket_id, channel, channel_data),
    );
    format!("{key}:{signature}")
}

/// Checks a subscription's `auth` value in constant time.
pub fn verify_channel(
    key: &str,
    secret: &str,
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
    auth: &str,
) -> bool {
    let Some((auth_key, signature)) = auth.split_once(':') else {
        return false;
    };
    if auth_key != key {
        return false;
    }
    let Ok(bytes) = hex::decode(signature) else {
        return false;
    };
    mac(
        secret,
        &channel_auth_message(socket_id, channel, channel_data),
    )
    .verify_slice(&bytes)
    .is_ok()
}

/// Why a signed HTTP API request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestAuthError {
    /// A required parameter is absent.
    #[error("Missing parameter: {0}")]
    Missing(&'static str),
    /// `auth_key` is not this app's key.
    #[error("Unknown auth_key")]
    UnknownKey,
    /// `auth_version` is not 1.0.
    #[error("Unsupported auth_version: expected 1.0")]
    BadVersion,
    /// `auth_timestamp` is not a number or is too far from the server's clock.
    #[error("Timestamp expired: given timestamp is not within 600 s of the server time {0}")]
    Timestamp(i64),
    /// `body_md5` does not match the body.
    #[error("Invalid body_md5: the body's MD5 does not match")]
    BodyMd5,
    /// The signature is wrong.
    #[error("Invalid signature: you should have sent HmacSHA256Hex({0:?}, your_secret)")]
    Signature(String),
}

/// Lowercase hex MD5 of a body.
pub fn body_md5(body: &[u8]) -> String {
    hex::encode(Md5::digest(body))
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
fn url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query parameters of a raw query string, decoded, keys lowercased.
pub fn query_pairs(raw_query: &str) -> Vec<(String, String)> {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (url_decode(k).to_ascii_lowercase(), url_decode(v))
        })
        .collect()
}

/// The string an HTTP API request signs: `METHOD\nPATH\nk1=v1&k2=v2…` (sorted, no signature).
pub fn request_string_to_sign(method: &str, path: &str, pairs: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "auth_signature")
        .collect();
    sorted.sort();
    let query: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{}\n{path}\n{}",
        method.to_ascii_uppercase(),
        query.join("&")
    )
}

/// Checks a signed HTTP API request: key, version, timestamp window, body MD5, signature.
pub fn verify_request(
    key: &str,
    secret: &str,
    method: &str,
    path: &str,
    raw_query: &str,
    body: &[u8],
    now_secs: i64,
) -> Result<(), RequestAuthError> {
    let pairs = query_pairs(raw_query);
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let auth_key = get("auth_key").ok_or(RequestAuthError::Missing("auth_key"))?;
    let timestamp = get("auth_timestamp").ok_or(RequestAuthError::Missing("auth_timestamp"))?;
    let version = get("auth_version").ok_or(RequestAuthError::Missing("auth_version"))?;
    let signature = get("auth_signature").ok_or(RequestAuthError::Missing("auth_signature"))?;
    if auth_key != key {
        return Err(RequestAuthError::UnknownKey);
    }
    if version != "1.0" {
        return Err(RequestAuthError::BadVersion);
    }
    let timestamp: i64 = timestamp
        .parse()
        .map_err(|_| RequestAuthError::Timestamp(now_secs))?;
    if (timestamp - now_secs).abs() > TIMESTAMP_WINDOW_SECS {
        return Err(RequestAuthError::Timestamp(now_secs));
    }
    if !body.is_empty() {
        let given = get("body_md5").ok_or(RequestAuthError::Missing("body_md5"))?;
        if !given.eq_ignore_ascii_case(&body_md5(body)) {
            return Err(RequestAuthError::BodyMd5);
        }
    }
    let to_sign = request_string_to_sign(method, path, &pairs);
    let valid = hex::decode(signature)
        .ok()
        .is_some_and(|bytes| mac(secret, &to_sign).verify_slice(&bytes).is_ok());
    if valid {
        Ok(())
    } else {
        Err(RequestAuthError::Signature(to_sign))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example of Pusher's authentication documentation (key 278d425bdf160c739803,
    // secret 7ad3773142a6692b25b8).
    const KEY: &str = "278d425bdf160c739803";
    const SECRET: &str = "7ad3773142a6692b25b8";

    #[test]
    fn private_channel_signature_matches_the_documented_example() {
        let auth = sign_channel(KEY, SECRET, "1234.1234", "private-foobar", None);
        assert_eq!(
            auth,
            "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
        );
        assert!(verify_channel(
            KEY,
            SECRET,
            "1234.1234",
            "private-foobar",
            None,
            &auth
        ));
        assert!(!verify_channel(
            KEY,
            SECRET,
            "1234.1235",
            "private-foobar",
            None,
            &auth
        ));
        assert!(!verify_channel(
            KEY,
            "other",
            "1234.1234",
            "private-foobar",
            None,
            &auth
        ));
        assert!(!verify_channel(
            KEY,
            SECRET,
            "1234.1234",
            "private-foobar",
            None,
            "nocolon"
        ));
    }

    #[test]
    fn presence_signature_covers_the_channel_data() {
        let data = r#"{"user_id":10,"user_info":{"name":"Mr. Channels"}}"#;
        let auth = sign_channel(KEY, SECRET, "1234.1234", "presence-foobar", Some(data));
        assert!(verify_channel(
            KEY,
            SECRET,
            "1234.1234",
            "presence-foobar",
            Some(data),
            &auth
        ));
        let forged = r#"{"user_id":11,"user_info":{"name":"Mr. Channels"}}"#;
        assert!(!verify_channel(
            KEY,
            SECRET,
            "1234.1234",
            "presence-foobar",
            Some(forged),
            &auth
        ));
    }

    #[test]
    fn request_signature_matches_the_documented_example() {
        let body = br#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
        assert_eq!(body_md5(body), "ec365a775a4cd0599faeb73354201b6f");
        let query = "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0\
                     &body_md5=ec365a775a4cd0599faeb73354201b6f";
        let to_sign = request_string_to_sign("POST", "/apps/3/events", &query_pairs(query));
        let signature = hmac_hex(SECRET, &to_sign);
        assert_eq!(
            signature,
            "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
        );
        let signed = format!("{query}&auth_signature={signature}");
        let now = 1353088179 + 30;
        assert_eq!(
            verify_request(KEY, SECRET, "POST", "/apps/3/events", &signed, body, now),
            Ok(())
        );
        assert!(matches!(
            verify_request(KEY, SECRET, "POST", "/apps/4/events", &signed, body, now),
            Err(RequestAuthError::Signature(_))
        ));
        assert_eq!(
            verify_request(KEY, SECRET, "POST", "/apps/3/events", &signed, b"{}", now),
            Err(RequestAuthError::BodyMd5)
        );
        assert_eq!(
            verify_request(
                KEY,
                SECRET,
                "POST",
                "/apps/3/events",
                &signed,
                body,
                now + 601
            ),
            Err(RequestAuthError::Timestamp(now + 601))
        );
        assert_eq!(
            verify_request(
                "other",
                SECRET,
                "POST",
                "/apps/3/events",
                &signed,
                body,
                now
            ),
            Err(RequestAuthError::UnknownKey)
        );
    }

    #[test]
    fn query_values_are_decoded_and_keys_lowercased() {
        let pairs = query_pairs("Info=user_count%2Csubscription_count&a=b+c");
        assert_eq!(
            pairs,
            vec![
                (
                    "info".to_owned(),
                    "user_count,subscription_count".to_owned()
                ),
                ("a".to_owned(), "b c".to_owned())
            ]
        );
    }
}
