//! The authorization-code flow with PKCE, `state` and `nonce`. Starting one stores its secrets
//! (nonce, PKCE verifier, redirect URI, and for the web app a hash of the browser-binding
//! cookie) in `oidc_logins` under the hash of its state; the provider's answer deletes that row
//! in the same statement that reads it, so a replayed or forged state finds nothing, whichever
//! node it reaches. Nonces for the ID-token exchange (`oidc_nonces`) are single-use the same way.

use std::borrow::Cow;

use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, TokenResponse as _,
    core::{CoreAuthenticationFlow, CoreIdToken},
};
use sqlx::Row;

use super::{Oidc, OidcError, VerifiedIdentity};
use crate::{
    db::{Db, now_ms},
    error::PlatformResult,
    secrets::{random_token, sha256_hex},
};

/// Who will bring the provider's answer back.
#[derive(Debug, Clone)]
pub enum Binding {
    /// The web app, in the browser holding this binding cookie value; the answer comes to
    /// atelier's own callback.
    Browser(String),
    /// An API client that gets the answer at its own redirect URI and posts it.
    Api,
}

/// What starting a flow needs.
#[derive(Debug, Clone)]
pub struct StartLogin {
    /// Provider id.
    pub provider: String,
    /// Where the provider sends the answer.
    pub redirect_uri: String,
    /// Who brings the answer back.
    pub binding: Binding,
    /// Link the identity to this signed-in account instead of signing in.
    pub link_user_id: Option<i64>,
    /// Where the web app goes afterwards (a path of atelier's own).
    pub return_to: Option<String>,
}

/// A started flow.
#[derive(Debug, Clone)]
pub struct StartedLogin {
    /// Where to send the person.
    pub authorization_url: String,
    /// The `state` in that URL.
    pub state: String,
    /// When the flow stops being accepted, Unix milliseconds.
    pub expires_at: i64,
}

/// The provider's answer at the redirect URI.
#[derive(Debug, Clone)]
pub enum ProviderAnswer {
    /// Success: an authorization code.
    Code(String),
    /// An error answer (`error`, `error_description`).
    Error {
        /// The OAuth error code (`access_denied`…).
        error: String,
        /// Its description, if any.
        description: Option<String>,
    },
}

/// A finished flow: the verified identity and what the flow was for.
#[derive(Debug, Clone)]
pub struct FinishedLogin {
    /// Who the provider says signed in.
    pub identity: VerifiedIdentity,
    /// The account to link the identity to, for a link flow.
    pub link_user_id: Option<i64>,
    /// Where the web app goes afterwards.
    pub return_to: Option<String>,
}

impl Oidc {
    /// Starts a flow: stores its secrets and answers the provider's authorization URL. The
    /// provider must answer discovery (else [`OidcError::Unreachable`]); an API client's
    /// redirect URI must be one of the provider's `redirect_uris`.
    pub async fn start(&self, db: &Db, start: StartLogin) -> PlatformResult<StartedLogin> {
        let provider = self.provider(&start.provider)?;
        let config = provider.config();
        if matches!(start.binding, Binding::Api)
            && !config.redirect_uris.contains(&start.redirect_uri)
        {
            return Err(OidcError::RedirectUriNotAllowed(start.redirect_uri).into());
        }
        let redirect = RedirectUrl::new(start.redirect_uri.clone())
            .map_err(|_| OidcError::RedirectUriNotAllowed(start.redirect_uri.clone()))?;
        let metadata = provider.metadata().await?;
        let client = provider
            .client(metadata, &config.client_id)
            .set_redirect_uri(redirect);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = random_token(32);
        let nonce = random_token(32);
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            {
                let state = state.clone();
                move || CsrfToken::new(state)
            },
            {
                let nonce = nonce.clone();
                move || Nonce::new(nonce)
            },
        );
        for scope in config.scopes.iter().filter(|scope| *scope != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _, _) = request.set_pkce_challenge(challenge).url();

        let now = now_ms();
        let ttl = i64::try_from(self.config().login_ttl.as_millis()).unwrap_or(i64::MAX / 2);
        let expires_at = now.saturating_add(ttl);
        sqlx::query("DELETE FROM oidc_logins WHERE expires_at <= $1")
            .bind(now)
            .execute(db.pool())
            .await?;
        let browser_hash = match &start.binding {
            Binding::Browser(cookie) => Some(sha256_hex(cookie.as_bytes())),
            Binding::Api => None,
        };
        sqlx::query(
            "INSERT INTO oidc_logins (state_hash, provider, nonce, pkce_verifier, redirect_uri, \
             browser_hash, link_user_id, return_to, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(sha256_hex(state.as_bytes()))
        .bind(&config.id)
        .bind(&nonce)
        .bind(verifier.secret())
        .bind(&start.redirect_uri)
        .bind(browser_hash)
        .bind(start.link_user_id)
        .bind(start.return_to)
        .bind(now)
        .bind(expires_at)
        .execute(db.pool())
        .await?;
        Ok(StartedLogin {
            authorization_url: url.to_string(),
            state,
            expires_at,
        })
    }

    /// Finishes a flow with the provider's answer: takes the flow's row (once: a replay finds
    /// nothing; a web flow only from the browser that started it), exchanges the code with the
    /// PKCE verifier, and verifies the ID token with the flow's nonce.
    pub async fn finish(
        &self,
        db: &Db,
        provider_id: &str,
        state: &str,
        binding: &Binding,
        answer: ProviderAnswer,
    ) -> PlatformResult<FinishedLogin> {
        let provider = self.provider(provider_id)?;
        let state_hash = sha256_hex(state.as_bytes());
        let returning = "RETURNING nonce, pkce_verifier, redirect_uri, link_user_id, return_to, \
                         expires_at";
        let row = match binding {
            Binding::Browser(cookie) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM oidc_logins WHERE state_hash = $1 AND provider = $2 \
                     AND browser_hash = $3 {returning}"
                )))
                .bind(&state_hash)
                .bind(provider_id)
                .bind(sha256_hex(cookie.as_bytes()))
                .fetch_optional(db.pool())
                .await?
            }
            Binding::Api => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM oidc_logins WHERE state_hash = $1 AND provider = $2 \
                     AND browser_hash IS NULL {returning}"
                )))
                .bind(&state_hash)
                .bind(provider_id)
                .fetch_optional(db.pool())
                .await?
            }
        }
        .ok_or(OidcError::InvalidState)?;
        if row.try_get::<i64, _>("expires_at")? <= now_ms() {
            return Err(OidcError::LoginExpired.into());
        }
        let code = match answer {
            ProviderAnswer::Code(code) => code,
            ProviderAnswer::Error { error, description } => {
                let detail = description.map(|d| format!(": {d}")).unwrap_or_default();
                return Err(if error == "access_denied" {
                    OidcError::AccessDenied(detail)
                } else {
                    OidcError::ProviderRefused(format!("{error}{detail}"))
                }
                .into());
            }
        };
        let nonce: String = row.try_get("nonce")?;
        let verifier: String = row.try_get("pkce_verifier")?;
        let redirect_uri: String = row.try_get("redirect_uri")?;
        let config = provider.config();
        let metadata = provider.metadata().await?;
        let client = provider.client(metadata, &config.client_id);
        let redirect = RedirectUrl::new(redirect_uri)
            .map_err(|err| OidcError::ProviderRefused(err.to_string()))?;
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|err| OidcError::ProviderRefused(err.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(provider.http())
            .await
            .map_err(|err| match err {
                RequestTokenError::ServerResponse(answer) => {
                    OidcError::ProviderRefused(match answer.error_description() {
                        Some(description) => format!("{}: {description}", answer.error()),
                        None => answer.error().to_string(),
                    })
                }
                RequestTokenError::Request(err) => OidcError::Unreachable(format!(
                    "{} did not answer the token request: {err}",
                    config.name
                )),
                other => OidcError::ProviderRefused(other.to_string()),
            })?;
        let id_token = response.id_token().ok_or_else(|| {
            OidcError::InvalidToken("the provider's token answer holds no ID token".into())
        })?;
        let identity = provider
            .verify(
                id_token,
                std::slice::from_ref(&config.client_id),
                &Nonce::new(nonce),
            )
            .await?;
        Ok(FinishedLogin {
            identity,
            link_user_id: row.try_get("link_user_id")?,
            return_to: row.try_get("return_to")?,
        })
    }

    /// A single-use nonce for an API client that will get an ID token itself and exchange it.
    pub async fn issue_nonce(&self, db: &Db, provider_id: &str) -> PlatformResult<(String, i64)> {
        self.provider(provider_id)?;
        let nonce = random_token(32);
        let now = now_ms();
        let ttl = i64::try_from(self.config().login_ttl.as_millis()).unwrap_or(i64::MAX / 2);
        let expires_at = now.saturating_add(ttl);
        sqlx::query("DELETE FROM oidc_nonces WHERE expires_at <= $1")
            .bind(now)
            .execute(db.pool())
            .await?;
        sqlx::query(
            "INSERT INTO oidc_nonces (nonce_hash, provider, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(sha256_hex(nonce.as_bytes()))
        .bind(provider_id)
        .bind(expires_at)
        .execute(db.pool())
        .await?;
        Ok((nonce, expires_at))
    }

    /// Verifies an ID token an API client got from the provider itself (a phone's Google
    /// sign-in) for the provider's client id or one of its `audiences`. A `nonce` must be one
    /// [`Oidc::issue_nonce`] handed out and not yet used (it is used up here, before the
    /// token is checked); without one, the token must carry no nonce.
    pub async fn verify_id_token(
        &self,
        db: &Db,
        provider_id: &str,
        id_token: &str,
        nonce: Option<&str>,
    ) -> PlatformResult<VerifiedIdentity> {
        let provider = self.provider(provider_id)?;
        let token: CoreIdToken = id_token
            .parse()
            .map_err(|err: serde_json::Error| OidcError::InvalidToken(err.to_string()))?;
        let config = provider.config();
        let audiences: Vec<String> = std::iter::once(config.client_id.clone())
            .chain(config.audiences.iter().cloned())
            .collect();
        match nonce {
            Some(nonce) => {
                let taken = sqlx::query(
                    "DELETE FROM oidc_nonces WHERE nonce_hash = $1 AND provider = $2 \
                     AND expires_at > $3",
                )
                .bind(sha256_hex(nonce.as_bytes()))
                .bind(provider_id)
                .bind(now_ms())
                .execute(db.pool())
                .await?
                .rows_affected();
                if taken == 0 {
                    return Err(OidcError::BadNonce(
                        "this nonce was not issued here, has expired, or was already used".into(),
                    )
                    .into());
                }
                Ok(provider
                    .verify(&token, &audiences, &Nonce::new(nonce.to_owned()))
                    .await?)
            }
            None => {
                let no_nonce = |nonce: Option<&Nonce>| match nonce {
                    None => Ok(()),
                    Some(_) => Err(
                        "the token carries a nonce: send the nonce it was issued with".to_owned(),
                    ),
                };
                Ok(provider.verify(&token, &audiences, no_nonce).await?)
            }
        }
    }
}
