//! Expiring signed download links for blobs: `HMAC-SHA256(key, "sha256.ext:expires")`. The key is
//! generated once and kept in the database, so every API node of a deployment signs alike.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::{
    db::{Db, now_ms},
    error::{PlatformError, PlatformResult},
    secrets::random_token,
};

/// Signs and checks download links.
#[derive(Clone)]
pub struct UrlSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner([redacted])")
    }
}

const KEY_SETTING: &str = "url_signing_key";

impl UrlSigner {
    /// A signer with an explicit key.
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self { key: key.into() }
    }

    /// Loads the deployment's signing key from the database, creating it on first start.
    pub async fn load_or_create(db: &Db) -> PlatformResult<Self> {
        let key = crate::db::setting_or_insert(db, KEY_SETTING, &random_token(32)).await?;
        Ok(Self::new(key.into_bytes()))
    }

    fn mac(&self, object: &str, expires: i64) -> Hmac<Sha256> {
        // HMAC accepts keys of any length.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(object.as_bytes());
        mac.update(b":");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// The signature of `object` (e.g. `<sha256>.png`) valid until `expires` (Unix seconds).
    pub fn sign(&self, object: &str, expires: i64) -> String {
        hex::encode(self.mac(object, expires).finalize().into_bytes())
    }

    /// Checks a signature and its expiry, in constant time.
    pub fn verify(&self, object: &str, expires: i64, signature: &str) -> PlatformResult<()> {
        let bytes = hex::decode(signature)
            .map_err(|_| PlatformError::Forbidden("malformed link signature".into()))?;
        self.mac(object, expires)
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
