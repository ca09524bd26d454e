//! OpenID Connect settings: the providers people may sign in with, and how accounts link.

use std::{fmt, time::Duration};

/// Google's issuer: a provider with this issuer needs nothing else but its client id and
/// secret (discovery finds the rest), and Google's ID tokens that name the issuer without its
/// scheme (`accounts.google.com`, as Android's once did) are accepted too.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// The scopes asked for when a provider names none.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "email", "profile"];

/// OpenID Connect sign-in (`[oidc]` and `[[oidc.providers]]` in the settings file).
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The providers, in the order the sign-in page shows them.
    pub providers: Vec<ProviderConfig>,
    /// A first sign-in whose provider asserts a *verified* email that an identity already
    /// linked to an account asserted (verified) too is linked to that account instead of
    /// creating a new one. Off by default: it trusts every provider to verify emails.
    pub auto_link_verified_email: bool,
    /// The address people reach atelier at (`https://atelier.example.org`): the web sign-in's
    /// redirect URI is `PUBLIC_URL/api/v1/auth/oidc/{id}/callback`. `None`: taken from each
    /// request's `Host` and scheme.
    pub public_url: Option<String>,
    /// How long a started sign-in may take before its state is refused. Default 10 min.
    pub login_ttl: Duration,
    /// How long the discovery document is trusted before it is fetched again. Default 1 h.
    pub discovery_ttl: Duration,
    /// Least time between two fetches of a provider's keys caused by an ID token signed with
    /// a key id not in the cached set (a key rotation). Default 10 s.
    pub jwks_min_refresh: Duration,
    /// Longest wait for a provider's answer (discovery, keys, token). Default 10 s.
    pub http_timeout: Duration,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            providers: Vec::new(),
            auto_link_verified_email: false,
            public_url: None,
            login_ttl: Duration::from_secs(600),
            discovery_ttl: Duration::from_secs(3600),
            jwks_min_refresh: Duration::from_secs(10),
            http_timeout: Duration::from_secs(10),
        }
    }
}

/// One OpenID Connect provider.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// Short name in URLs (`google`, `corp`): letters, digits, `-`, `_`.
    pub id: String,
    /// What the button says after "Sign in with" (`Google`).
    pub name: String,
    /// The issuer URL; its `/.well-known/openid-configuration` is read for the endpoints and
    /// keys. For the id `google` it defaults to [`GOOGLE_ISSUER`].
    pub issuer: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret (`None` for a public client, which then relies on PKCE alone).
    pub client_secret: Option<String>,
    /// Scopes to ask for; `openid` is always added. Default `openid email profile`.
    pub scopes: Vec<String>,
    /// Redirect URIs API clients (mobile apps, CLIs) may use for their own code flow, exactly
    /// as registered at the provider; the web app's own callback is always allowed.
    pub redirect_uris: Vec<String>,
    /// Further client ids whose ID tokens the ID-token exchange accepts (an Android or iOS
    /// client of the same project), beside `client_id`.
    pub audiences: Vec<String>,
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("scopes", &self.scopes)
            .field("redirect_uris", &self.redirect_uris)
            .field("audiences", &self.audiences)
            .finish()
    }
}

impl ProviderConfig {
    /// A provider with the defaults filled in: Google's issuer for the id `google`, the id
    /// capitalised as its name, the default scopes.
    pub fn new(id: &str, issuer: Option<String>, client_id: String) -> Self {
        let issuer = issuer.unwrap_or_else(|| {
            if id == "google" {
                GOOGLE_ISSUER.to_owned()
            } else {
                String::new()
            }
        });
        Self {
            id: id.to_owned(),
            name: default_name(id),
            issuer,
            client_id,
            client_secret: None,
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            redirect_uris: Vec::new(),
            audiences: Vec::new(),
        }
    }

    /// Checks what can be checked without asking the provider.
    pub fn validate(&self) -> Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 32
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if !id_ok {
            return Err(format!(
                "OIDC provider id {:?}: use 1–32 letters, digits, '-' or '_'",
                self.id
            ));
        }
        if self.issuer.is_empty() {
            return Err(format!("OIDC provider {:?} needs an issuer URL", self.id));
        }
        if url::Url::parse(&self.issuer).is_err() {
            return Err(format!(
                "OIDC provider {:?}: the issuer {:?} is not a URL",
                self.id, self.issuer
            ));
        }
        if self.client_id.is_empty() {
            return Err(format!("OIDC provider {:?} needs a client id", self.id));
        }
        for uri in &self.redirect_uris {
            if url::Url::parse(uri).is_err() {
                return Err(format!(
                    "OIDC provider {:?}: the redirect URI {uri:?} is not a URL",
                    self.id
                ));
            }
        }
        Ok(())
    }

    /// Issuers an ID token of this provider may name: the configured one, and for Google also
    /// the scheme-less form Google documents.
    pub fn accepted_issuers(&self) -> Vec<String> {
        let mut issuers = vec![self.issuer.clone()];
        if self.issuer.trim_end_matches('/') == GOOGLE_ISSUER {
            issuers.push("accounts.google.com".to_owned());
        }
        issuers
    }
}

/// `google` → `Google`.
pub fn default_name(id: &str) -> String {
    let mut chars = id.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_needs_only_its_client_id() {
        let google = ProviderConfig::new("google", None, "id.apps.googleusercontent.com".into());
        assert_eq!(google.issuer, GOOGLE_ISSUER);
        assert_eq!(google.name, "Google");
        assert!(google.validate().is_ok());
        assert!(
            google
                .accepted_issuers()
                .contains(&"accounts.google.com".to_owned())
        );
    }

    #[test]
    fn a_generic_provider_needs_an_issuer() {
        let corp = ProviderConfig::new("corp", None, "atelier".into());
        assert!(corp.validate().is_err());
        let corp = ProviderConfig::new("corp", Some("https://id.corp.example".into()), "a".into());
        assert!(corp.validate().is_ok());
        assert_eq!(corp.accepted_issuers(), vec!["https://id.corp.example"]);
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let mut google = ProviderConfig::new("google", None, "id".into());
        google.client_secret = Some("hunter2".into());
        assert!(!format!("{google:?}").contains("hunter2"));
    }
}
