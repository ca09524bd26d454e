//! Expiring signed download links for blobs: `HMAC-SHA256(key, "sha256.ext:expires")`, and the
//! id of the key that signed (`kid`), so a deployment can rotate keys: the new key signs, the
//! old ones still verify the links they signed until those expire. Keys come from
//! `ATELIER_URL_SIGNING_KEYS` (`id:secret[,id:secret…]`, first signs); without it one key is
//! generated once and kept in the database (id `db`), so every API node signs alike.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::{
    db::{Db, now_ms},
    error::{PlatformError, PlatformResult},
    secrets::random_token,
};

/// A URL-signing key and its id.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// Short id carried by links (`kid=`): letters, digits, `-`, `_`.
    pub id: String,
    /// The secret.
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({}, [redacted])", self.id)
    }
}

impl SigningKey {
    /// Parses `id:secret[,id:secret…]` (the first key signs; the rest only verify). Secrets
    /// are at least 16 characters; ids are unique.
    pub fn parse_list(spec: &str) -> PlatformResult<Vec<SigningKey>> {
        let mut keys: Vec<SigningKey> = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, secret) = entry.split_once(':').ok_or_else(|| {
                PlatformError::Invalid("a URL-signing key is written id:secret".into())
            })?;
            let id_ok = !id.is_empty()
                && id.len() <= 32
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !id_ok {
                return Err(PlatformError::Invalid(format!(
                    "URL-signing key id {id:?}: 1–32 letters, digits, '-' or '_'"
                )));
            }
            if secret.len() < 16 {
                return Err(PlatformError::Invalid(format!(
                    "URL-signing key {id:?}: the secret must be at least 16 characters"
                )));
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(PlatformError::Invalid(format!(
                    "URL-signing key id {id:?} is given twice"
                )));
            }
            keys.push(SigningKey {
                id: id.to_owned(),
                secret: secret.as_bytes().to_vec(),
            });
        }
        Ok(keys)
    }
}

/// Signs and checks download links.
#[derive(Clone)]
pub struct UrlSigner {
    /// The first key signs; every key verifies what it signed.
    keys: Vec<SigningKey>,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner([redacted])")
    }
}

const KEY_SETTING: &str = "url_signing_key";

/// The id of the key kept in the database (and of links without a `kid`, which it signed).
pub const DATABASE_KEY_ID: &str = "db";

impl UrlSigner {
    /// A signer with one explicit key (id `db`).
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self {
            keys: vec![SigningKey {
                id: DATABASE_KEY_ID.to_owned(),
                secret: key.into(),
            }],
        }
    }

    /// A signer with `configured` keys, or — when none are configured — the deployment's key
    /// from the database (created on first start). With configured keys, a key already in the
    /// database still verifies the links it signed (none is created).
    pub async fn load(db: &Db, configured: &[SigningKey]) -> PlatformResult<Self> {
        if configured.is_empty() {
            let key = crate::db::setting_or_insert(db, KEY_SETTING, &random_token(32)).await?;
            return Ok(Self::new(key.into_bytes()));
        }
        let mut keys = configured.to_vec();
        if !keys.iter().any(|k| k.id == DATABASE_KEY_ID) {
            let stored = sqlx::query("SELECT value FROM settings WHERE name = $1")
                .bind(KEY_SETTING)
                .fetch_optional(db.pool())
                .await?;
            if let Some(row) = stored {
                keys.push(SigningKey {
                    id: DATABASE_KEY_ID.to_owned(),
                    secret: sqlx::Row::try_get::<String, _>(&row, "value")?.into_bytes(),
                });
            }
        }
        Ok(Self { keys })
    }

    /// Loads the deployment's signing key from the database, creating it on first start.
    pub async fn load_or_create(db: &Db) -> PlatformResult<Self> {
        Self::load(db, &[]).await
    }

    /// The id of the key that signs new links.
    pub fn key_id(&self) -> &str {
        self.keys.first().map_or(DATABASE_KEY_ID, |k| k.id.as_str())
    }

    fn key(&self, id: Option<&str>) -> Option<&SigningKey> {
        match id {
            Some(id) => self.keys.iter().find(|k| k.id == id),
            // Links from before key ids were signed by the database key.
            None => self
                .keys
                .iter()
                .find(|k| k.id == DATABASE_KEY_ID)
                .or(self.keys.first()),
        }
    }

    fn mac(key: &SigningKey, object: &str, expires: i64) -> Hmac<Sha256> {
        // HMAC accepts keys of any length.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(object.as_bytes());
        mac.update(b":");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// The signature of `object` (e.g. `<sha256>.png`) valid until `expires` (Unix seconds),
    /// by the key [`UrlSigner::key_id`] names.
    pub fn sign(&self, object: &str, expires: i64) -> String {
        match self.keys.first() {
            Some(key) => hex::encode(Self::mac(key, object, expires).finalize().into_bytes()),
            None => String::new(),
        }
    }

    /// Checks a signature made by the database key (links without a key id) and its expiry.
    pub fn verify(&self, object: &str, expires: i64, signature: &str) -> PlatformResult<()> {
        self.verify_with(None, object, expires, signature)
    }

    /// Checks a signature by the key `key_id` (`None`: a link from before key ids) and its
    /// expiry, in constant time. A retired key (no longer configured) verifies nothing.
    pub fn verify_with(
        &self,
        key_id: Option<&str>,
        object: &str,
        expires: i64,
        signature: &str,
    ) -> PlatformResult<()> {
        let key = self
            .key(key_id)
            .ok_or_else(|| PlatformError::Forbidden("this link's signing key is retired".into()))?;
        let bytes = hex::decode(signature)
            .map_err(|_| PlatformError::Forbidden("malformed link signature".into()))?;
        Self::mac(key, object, expires)
            .verify_slice(&bytes)
            .map_err(|_| PlatformError::Forbidden("bad link signature".into()))?;
        if expires * 1000 < now_ms() {
            return Err(PlatformError::Forbidden(
                "this download link has expired".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_until_it_expires() {
        let signer = UrlSigner::new(b"k".to_vec());
        let future = now_ms() / 1000 + 60;
        let sig = signer.sign("abc.png", future);
        assert!(signer.verify("abc.png", future, &sig).is_ok());
        assert!(signer.verify("abd.png", future, &sig).is_err());
        assert!(signer.verify("abc.png", future + 1, &sig).is_err());
        let past = now_ms() / 1000 - 1;
        let old = signer.sign("abc.png", past);
        assert!(signer.verify("abc.png", past, &old).is_err());
    }

    #[test]
    fn a_rotated_key_still_verifies_its_links_and_a_retired_one_does_not() {
        let future = now_ms() / 1000 + 60;
        let old = UrlSigner {
            keys: SigningKey::parse_list("k1:old-secret-0123456789").expect("keys"),
        };
        let old_sig = old.sign("x.png", future);
        let rotated = UrlSigner {
            keys: SigningKey::parse_list("k2:new-secret-0123456789, k1:old-secret-0123456789")
                .expect("keys"),
        };
        assert_eq!(rotated.key_id(), "k2");
        assert!(
            rotated
                .verify_with(Some("k1"), "x.png", future, &old_sig)
                .is_ok()
        );
        assert!(
            rotated
                .verify_with(Some("k2"), "x.png", future, &old_sig)
                .is_err()
        );
        let retired = UrlSigner {
            keys: SigningKey::parse_list("k2:new-secret-0123456789").expect("keys"),
        };
        assert!(
            retired
                .verify_with(Some("k1"), "x.png", future, &old_sig)
                .is_err()
        );
    }

    #[test]
    fn key_lists_are_checked() {
        assert!(SigningKey::parse_list("k1:short").is_err());
        assert!(SigningKey::parse_list("nocolon").is_err());
        assert!(SigningKey::parse_list("a:0123456789abcdef,a:0123456789abcdef").is_err());
        assert_eq!(
            SigningKey::parse_list("a:0123456789abcdef").expect("one")[0].id,
            "a"
        );
    }

    #[test]
    fn another_key_does_not_verify() {
        let future = now_ms() / 1000 + 60;
        let sig = UrlSigner::new(b"one".to_vec()).sign("x.jpeg", future);
        assert!(
            UrlSigner::new(b"two".to_vec())
                .verify("x.jpeg", future, &sig)
                .is_err()
        );
        assert!(
            UrlSigner::new(b"one".to_vec())
                .verify("x.jpeg", future, "zz")
                .is_err()
        );
    }
}
