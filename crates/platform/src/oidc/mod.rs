//! OpenID Connect sign-in beside username + password: providers from the settings
//! ([`config`]), their discovery documents and keys ([`provider`]), the authorization-code
//! flow with PKCE, `state` and `nonce` whose state lives in the database so any node can finish
//! what another started ([`flow`]), and the identities (issuer + subject) linked to accounts
//! ([`identities`]). ID tokens are verified by the `openidconnect` crate, never by hand; it
//! talks to providers through the workspace's reqwest ([`http`]).

pub mod config;
pub mod flow;
pub mod http;
pub mod identities;
pub mod provider;

use std::{collections::HashMap, sync::Arc};

pub use config::{OidcConfig, ProviderConfig};
pub use provider::{Provider, VerifiedIdentity};

/// Why an OpenID Connect sign-in was refused; each variant is something the person or the
/// operator can act on, with its own stable code.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// No provider with this id is configured.
    #[error("no sign-in provider {0:?} is configured here")]
    UnknownProvider(String),
    /// The provider did not answer (down, unreachable, not an OpenID provider): try later.
    #[error("{0}")]
    Unreachable(String),
    /// The `state` is unknown, was already used (a replay or a reload), or belongs to another
    /// browser.
    #[error(
        "this sign-in is not known here or was already used: start again from the sign-in page"
    )]
    InvalidState,
    /// The sign-in was started too long ago.
    #[error("this sign-in took too long: start again from the sign-in page")]
    LoginExpired,
    /// The person declined at the provider (`access_denied`).
    #[error("the sign-in was cancelled at the provider{0}")]
    AccessDenied(String),
    /// The provider refused (an error answer, or the code was not accepted).
    #[error("the provider refused the sign-in: {0}")]
    ProviderRefused(String),
    /// The ID token has expired.
    #[error("the ID token has expired: {0}")]
    Expired(String),
    /// The ID token is for another client.
    #[error("the ID token is not meant for this server: {0}")]
    WrongAudience(String),
    /// The ID token comes from another issuer.
    #[error("the ID token comes from another issuer: {0}")]
    WrongIssuer(String),
    /// The ID token's signature does not verify against the provider's keys.
    #[error("the ID token's signature is not valid: {0}")]
    BadSignature(String),
    /// The ID token is signed with a key the provider does not publish (even after fetching
    /// its keys again).
    #[error("the ID token is signed with a key the provider does not publish")]
    UnknownKey,
    /// The nonce is missing, wrong, or was already used.
    #[error("the ID token's nonce is not valid: {0}")]
    BadNonce(String),
    /// The ID token is malformed or fails another check.
    #[error("the ID token is not valid: {0}")]
    InvalidToken(String),
    /// An API client asked for a redirect URI the provider's settings do not list.
    #[error("the redirect URI {0:?} is not one of this provider's redirect_uris in the settings")]
    RedirectUriNotAllowed(String),
    /// The identity is already linked to another account.
    #[error("this {0} identity is already linked to another account")]
    LinkedElsewhere(String),
}

impl OidcError {
    /// The stable kebab-case code of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownProvider(_) => "unknown-provider",
            Self::Unreachable(_) => "provider-unreachable",
            Self::InvalidState => "invalid-state",
            Self::LoginExpired => "login-expired",
            Self::AccessDenied(_) => "access-denied",
            Self::ProviderRefused(_) => "provider-refused",
            Self::Expired(_) => "id-token-expired",
            Self::WrongAudience(_) => "id-token-wrong-audience",
            Self::WrongIssuer(_) => "id-token-wrong-issuer",
            Self::BadSignature(_) => "id-token-bad-signature",
            Self::UnknownKey => "id-token-unknown-key",
            Self::BadNonce(_) => "id-token-bad-nonce",
            Self::InvalidToken(_) => "id-token-invalid",
            Self::RedirectUriNotAllowed(_) => "redirect-uri-not-allowed",
            Self::LinkedElsewhere(_) => "identity-linked-elsewhere",
        }
    }
}

/// The configured providers, each with its cache; one per process.
#[derive(Debug, Clone)]
pub struct Oidc {
    config: Arc<OidcConfig>,
    providers: Arc<HashMap<String, Arc<Provider>>>,
}

impl Oidc {
    /// Builds the providers (nothing is fetched until one is used).
    pub fn new(config: OidcConfig) -> Result<Self, String> {
        let http = http::client(config.http_timeout).map_err(|err| err.to_string())?;
        let mut providers = HashMap::new();
        for provider in &config.providers {
            provider.validate()?;
            let handle = Provider::new(
                provider.clone(),
                http.clone(),
                config.discovery_ttl,
                config.jwks_min_refresh,
            );
            if providers
                .insert(provider.id.clone(), Arc::new(handle))
                .is_some()
            {
                return Err(format!("two OIDC providers have the id {:?}", provider.id));
            }
        }
        Ok(Self {
            config: Arc::new(config),
            providers: Arc::new(providers),
        })
    }

    /// The settings.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// The providers in the settings' order.
    pub fn providers(&self) -> impl Iterator<Item = &ProviderConfig> {
        self.config.providers.iter()
    }

    /// The provider `id`.
    pub fn provider(&self, id: &str) -> Result<&Arc<Provider>, OidcError> {
        self.providers
            .get(id)
            .ok_or_else(|| OidcError::UnknownProvider(id.to_owned()))
    }
}
