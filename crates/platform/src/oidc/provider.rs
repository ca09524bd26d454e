//! One configured provider at run time: its discovery document and key set, fetched on first
//! use and cached (the document for `discovery_ttl`; the keys until an ID token names a key id
//! they lack, which fetches them again: a key rotation), and ID-token verification through the
//! `openidconnect` crate (signature against those keys, issuer, audience, expiry, nonce).

use std::time::{Duration, Instant};

use openidconnect::{ClaimsVerificationError, DiscoveryError};
use openidconnect::{
    ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    NonceVerifier, SignatureVerificationError,
    core::{CoreClient, CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet, CoreProviderMetadata},
};
use tokio::sync::Mutex;

use super::{OidcError, ProviderConfig, http};

/// The library's client as discovery makes it: authorization endpoint set, token and user-info
/// endpoints as the provider's metadata says.
pub type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The claims atelier keeps from a verified ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The provider's id in atelier's settings.
    pub provider: String,
    /// The issuer the token named.
    pub issuer: String,
    /// The subject: the person's stable id at the issuer.
    pub subject: String,
    /// The email the provider asserted, if any.
    pub email: Option<String>,
    /// Whether the provider says it verified that email.
    pub email_verified: bool,
    /// `preferred_username`, if the provider sent one.
    pub preferred_username: Option<String>,
    /// The person's name, if the provider sent one.
    pub name: Option<String>,
}

#[derive(Clone)]
struct Cached {
    metadata: CoreProviderMetadata,
    fetched_at: Instant,
    keys_fetched_at: Instant,
}

/// A provider: its settings and what was fetched from it.
pub struct Provider {
    config: ProviderConfig,
    http: http::ProviderHttp,
    discovery_ttl: Duration,
    jwks_min_refresh: Duration,
    cache: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A provider that fetches nothing until it is first used.
    pub fn new(
        config: ProviderConfig,
        http: reqwest::Client,
        discovery_ttl: Duration,
        jwks_min_refresh: Duration,
    ) -> Self {
        Self {
            config,
            http: http::ProviderHttp(http),
            discovery_ttl,
            jwks_min_refresh,
            cache: Mutex::new(None),
        }
    }

    /// The HTTP client it talks to the provider through.
    pub fn http(&self) -> &http::ProviderHttp {
        &self.http
    }

    /// Its settings.
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// The provider's metadata (endpoints and keys), from the cache while it is fresh.
    pub async fn metadata(&self) -> Result<CoreProviderMetadata, OidcError> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            && cached.fetched_at.elapsed() < self.discovery_ttl
        {
            return Ok(cached.metadata.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|err| OidcError::Unreachable(format!("bad issuer URL: {err}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|err| self.unreachable("discovery", &err))?;
        let now = Instant::now();
        *cache = Some(Cached {
            metadata: metadata.clone(),
            fetched_at: now,
            keys_fetched_at: now,
        });
        Ok(metadata)
    }

    /// Fetches the key set again after an ID token named a key id the cached set lacks; at
    /// most once per `jwks_min_refresh`. Whether new keys were fetched.
    async fn refresh_keys(&self) -> Result<bool, OidcError> {
        let mut cache = self.cache.lock().await;
        let Some(cached) = cache.as_mut() else {
            return Ok(false);
        };
        if cached.keys_fetched_at.elapsed() < self.jwks_min_refresh {
            return Ok(false);
        }
        let keys = CoreJsonWebKeySet::fetch_async(cached.metadata.jwks_uri(), &self.http)
            .await
            .map_err(|err| self.unreachable("key set", &err))?;
        tracing::info!(provider = %self.config.id, "fetched the provider's keys again (unknown key id)");
        cached.metadata = cached.metadata.clone().set_jwks(keys);
        cached.keys_fetched_at = Instant::now();
        Ok(true)
    }

    fn unreachable<E: std::error::Error>(&self, what: &str, err: &DiscoveryError<E>) -> OidcError {
        let detail = match err {
            DiscoveryError::Request(source) => source.to_string(),
            other => other.to_string(),
        };
        tracing::warn!(provider = %self.config.id, error = %detail, "OpenID provider {what} failed");
        OidcError::Unreachable(format!(
            "{} did not answer as an OpenID Connect provider ({what}): {detail}",
            self.config.name
        ))
    }

    /// A client for the library, built on `metadata`, as `client_id`.
    pub fn client(&self, metadata: CoreProviderMetadata, client_id: &str) -> DiscoveredClient {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.to_owned()),
            self.config
                .client_secret
                .as_ref()
                .map(|secret| ClientSecret::new(secret.clone())),
        )
    }

    /// Verifies an ID token for one of `audiences` (the first is this provider's client id)
    /// with `nonce` (a [`NonceVerifier`]), fetching the keys again once if the token names an
    /// unknown key.
    pub async fn verify<N: NonceVerifier + Clone>(
        &self,
        token: &CoreIdToken,
        audiences: &[String],
        nonce: N,
    ) -> Result<VerifiedIdentity, OidcError> {
        let mut metadata = self.metadata().await?;
        let mut refreshed = false;
        loop {
            match self.verify_with(&metadata, token, audiences, nonce.clone()) {
                Err(OidcError::UnknownKey) if !refreshed => {
                    refreshed = true;
                    if !self.refresh_keys().await? {
                        return Err(OidcError::UnknownKey);
                    }
                    metadata = self.metadata().await?;
                }
                other => return other,
            }
        }
    }

    fn verify_with<N: NonceVerifier + Clone>(
        &self,
        metadata: &CoreProviderMetadata,
        token: &CoreIdToken,
        audiences: &[String],
        nonce: N,
    ) -> Result<VerifiedIdentity, OidcError> {
        let issuers = self.config.accepted_issuers();
        let mut last = OidcError::WrongAudience(String::new());
        for audience in audiences {
            let client = self.client(metadata.clone(), audience);
            // The library checks the issuer against the configured one; Google's scheme-less
            // alias is checked below instead, the rest (signature, audience, expiry, nonce)
            // always by the library.
            let verifier = client
                .id_token_verifier()
                .require_issuer_match(issuers.len() == 1);
            match token.claims(&verifier, nonce.clone()) {
                Ok(claims) => {
                    let issuer = claims.issuer().as_str();
                    if !issuers.iter().any(|accepted| accepted == issuer) {
                        return Err(OidcError::WrongIssuer(issuer.to_owned()));
                    }
                    return Ok(self.identity(claims));
                }
                Err(ClaimsVerificationError::InvalidAudience(detail)) => {
                    last = OidcError::WrongAudience(detail);
                }
                Err(err) => return Err(classify(err)),
            }
        }
        Err(last)
    }

    fn identity(&self, claims: &CoreIdTokenClaims) -> VerifiedIdentity {
        VerifiedIdentity {
            provider: self.config.id.clone(),
            issuer: claims.issuer().as_str().to_owned(),
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|email| email.as_str().to_owned()),
            email_verified: claims.email_verified().unwrap_or(false),
            preferred_username: claims
                .preferred_username()
                .map(|name| name.as_str().to_owned()),
            name: claims
                .name()
                .and_then(|name| name.get(None))
                .map(|name| name.as_str().to_owned()),
        }
    }
}

/// The library's refusal as atelier's error.
fn classify(err: ClaimsVerificationError) -> OidcError {
    match err {
        ClaimsVerificationError::Expired(detail) => OidcError::Expired(detail),
        ClaimsVerificationError::InvalidAudience(detail) => OidcError::WrongAudience(detail),
        ClaimsVerificationError::InvalidIssuer(detail) => OidcError::WrongIssuer(detail),
        ClaimsVerificationError::InvalidNonce(detail) => OidcError::BadNonce(detail),
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => OidcError::UnknownKey,
        ClaimsVerificationError::SignatureVerification(err) => {
            OidcError::BadSignature(err.to_string())
        }
        other => OidcError::InvalidToken(other.to_string()),
    }
}
