//! Identities (issuer + subject) linked to accounts: a sign-in finds the account, or links by
//! verified email when the settings allow, or creates an account (with a unique username made
//! from the preferred username, the email or the name) and its identity in one transaction, so
//! nothing is left half-created; a signed-in account links further identities.

use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};
use utoipa::ToSchema;

use super::{OidcError, VerifiedIdentity};
use crate::{
    accounts::{self, User},
    db::{Db, now_ms},
    error::{PlatformError, PlatformResult},
};

/// An identity at a provider linked to an account, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LinkedIdentity {
    /// The provider's id in atelier's settings.
    pub provider: String,
    /// The issuer.
    pub issuer: String,
    /// The person's id at the issuer.
    pub subject: String,
    /// The email the provider asserted at the last sign-in.
    pub email: Option<String>,
    /// Whether the provider said it verified it.
    pub email_verified: bool,
    /// When it was linked, Unix milliseconds.
    pub created_at: i64,
}

/// How a sign-in found its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignInOutcome {
    /// The identity was already linked.
    Existing,
    /// A new account was created for it.
    Created,
    /// It was linked to the account of another identity with the same verified email.
    LinkedByEmail,
}

async fn linked_user(db: &Db, identity: &VerifiedIdentity) -> PlatformResult<Option<i64>> {
    let row = sqlx::query("SELECT user_id FROM oidc_identities WHERE issuer = $1 AND subject = $2")
        .bind(&identity.issuer)
        .bind(&identity.subject)
        .fetch_optional(db.pool())
        .await?;
    Ok(match row {
        Some(row) => Some(row.try_get("user_id")?),
        None => None,
    })
}

async fn touch(db: &Db, identity: &VerifiedIdentity) -> PlatformResult<()> {
    sqlx::query(
        "UPDATE oidc_identities SET email = $1, email_verified = $2, last_login_at = $3 \
         WHERE issuer = $4 AND subject = $5",
    )
    .bind(&identity.email)
    .bind(i64::from(identity.email_verified))
    .bind(now_ms())
    .bind(&identity.issuer)
    .bind(&identity.subject)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Inserts the identity for `user_id` unless (issuer, subject) is taken; whether it was added.
async fn insert_identity(
    conn: &mut sqlx::AnyConnection,
    identity: &VerifiedIdentity,
    user_id: i64,
) -> PlatformResult<bool> {
    let now = now_ms();
    let inserted = sqlx::query(
        "INSERT INTO oidc_identities (issuer, subject, user_id, provider, email, email_verified, \
         created_at, last_login_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (issuer, subject) DO NOTHING",
    )
    .bind(&identity.issuer)
    .bind(&identity.subject)
    .bind(user_id)
    .bind(&identity.provider)
    .bind(&identity.email)
    .bind(i64::from(identity.email_verified))
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Signs `identity` in: its linked account; else (with `auto_link_verified_email` and a
/// verified email) the account of another identity with that verified email; else a new
/// account.
pub async fn sign_in(
    db: &Db,
    identity: &VerifiedIdentity,
    auto_link_verified_email: bool,
) -> PlatformResult<(User, SignInOutcome)> {
    // Two tries: a concurrent first sign-in of the same identity may win the insert.
    for _ in 0..2 {
        if let Some(user_id) = linked_user(db, identity).await? {
            touch(db, identity).await?;
            return Ok((
                accounts::get_user(db, user_id).await?,
                SignInOutcome::Existing,
            ));
        }
        if auto_link_verified_email
            && identity.email_verified
            && let Some(email) = &identity.email
        {
            let row = sqlx::query(
                "SELECT user_id FROM oidc_identities WHERE email = $1 AND email_verified = 1 \
                 ORDER BY id LIMIT 1",
            )
            .bind(email)
            .fetch_optional(db.pool())
            .await?;
            if let Some(row) = row {
                let user_id: i64 = row.try_get("user_id")?;
                let mut conn = db.pool().acquire().await?;
                if insert_identity(&mut conn, identity, user_id).await? {
                    return Ok((
                        accounts::get_user(db, user_id).await?,
                        SignInOutcome::LinkedByEmail,
                    ));
                }
                continue;
            }
        }
        if let Some(user) = create_account(db, identity).await? {
            return Ok((user, SignInOutcome::Created));
        }
    }
    Err(PlatformError::Conflict(
        "this identity is being signed in elsewhere at the same moment: try again".into(),
    ))
}

/// Creates an account and its identity in one transaction; `None` when another sign-in of the
/// same identity created it first (nothing is kept of this one).
async fn create_account(db: &Db, identity: &VerifiedIdentity) -> PlatformResult<Option<User>> {
    let base = username_base(identity);
    let _turn = db.write_turn().await;
    let mut tx = db.pool().begin().await?;
    let mut user = None;
    for attempt in 0..200u32 {
        let candidate = username_candidate(&base, attempt);
        // ON CONFLICT DO NOTHING: a taken name must not abort PostgreSQL's transaction.
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO users (username, password_hash, gender, role, created_at) \
             VALUES ($1, '', '', '', $2) ON CONFLICT (username) DO NOTHING RETURNING {}",
            accounts::USER_COLUMNS
        )))
        .bind(&candidate)
        .bind(now_ms())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            user = Some(accounts::user_from_row(&row)?);
            break;
        }
    }
    let user = user.ok_or_else(|| PlatformError::Internal("no free username found".into()))?;
    if !insert_identity(&mut tx, identity, user.id).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    tx.commit().await?;
    tracing::info!(user = user.id, provider = %identity.provider, "account created by OpenID Connect sign-in");
    Ok(Some(user))
}

/// Links `identity` to the signed-in account `user_id` (linking it again is fine; an
/// identity linked to another account is refused).
pub async fn link(db: &Db, identity: &VerifiedIdentity, user_id: i64) -> PlatformResult<User> {
    match linked_user(db, identity).await? {
        Some(owner) if owner == user_id => touch(db, identity).await?,
        Some(_) => return Err(OidcError::LinkedElsewhere(identity.provider.clone()).into()),
        None => {
            let mut conn = db.pool().acquire().await?;
            if !insert_identity(&mut conn, identity, user_id).await? {
                return Err(OidcError::LinkedElsewhere(identity.provider.clone()).into());
            }
        }
    }
    accounts::get_user(db, user_id).await
}

/// The identities linked to an account.
pub async fn list(db: &Db, user_id: i64) -> PlatformResult<Vec<LinkedIdentity>> {
    let rows = sqlx::query(
        "SELECT provider, issuer, subject, email, email_verified, created_at \
         FROM oidc_identities WHERE user_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(LinkedIdentity {
                provider: row.try_get("provider")?,
                issuer: row.try_get("issuer")?,
                subject: row.try_get("subject")?,
                email: row.try_get("email")?,
                email_verified: row.try_get::<i64, _>("email_verified")? != 0,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

/// The username a new account starts from: the preferred username, else the email's local
/// part, else the name, else `user`; reduced to the characters usernames allow.
fn username_base(identity: &VerifiedIdentity) -> String {
    let sources = [
        identity.preferred_username.as_deref(),
        identity
            .email
            .as_deref()
            .and_then(|email| email.split('@').next()),
        identity.name.as_deref(),
    ];
    for source in sources.into_iter().flatten() {
        let cleaned: String = source
            .chars()
            .map(|c| if c.is_whitespace() { '.' } else { c })
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .take(56)
            .collect::<String>()
            .trim_matches('.')
            .to_lowercase();
        if !cleaned.is_empty() {
            return cleaned;
        }
    }
    "user".to_owned()
}

/// The `attempt`-th name tried for `base`: `base`, then `base2`, `base3`…, then random
/// suffixes; always 3–64 characters.
fn username_candidate(base: &str, attempt: u32) -> String {
    let mut name = match attempt {
        0 => base.to_owned(),
        1..=20 => format!("{base}{}", attempt + 1),
        _ => format!("{base}-{}", crate::secrets::random_code(6).to_lowercase()),
    };
    while name.chars().count() < 3 {
        name.push('0');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(
        preferred: Option<&str>,
        email: Option<&str>,
        name: Option<&str>,
    ) -> VerifiedIdentity {
        VerifiedIdentity {
            provider: "test".into(),
            issuer: "https://issuer.example".into(),
            subject: "1".into(),
            email: email.map(Into::into),
            email_verified: true,
            preferred_username: preferred.map(Into::into),
            name: name.map(Into::into),
        }
    }

    #[test]
    fn usernames_come_from_the_preferred_name_then_the_email_then_the_name() {
        assert_eq!(
            username_base(&identity(Some("Ann"), Some("x@y"), None)),
            "ann"
        );
        assert_eq!(
            username_base(&identity(None, Some("ann.lee@example.com"), None)),
            "ann.lee"
        );
        assert_eq!(
            username_base(&identity(None, None, Some("Ann Lee"))),
            "ann.lee"
        );
        assert_eq!(username_base(&identity(None, None, Some("山田"))), "user");
    }

    #[test]
    fn candidates_are_valid_usernames_and_differ() {
        assert_eq!(username_candidate("al", 0), "al0");
        assert_eq!(username_candidate("ann", 1), "ann2");
        let random = username_candidate("ann", 30);
        assert!(random.starts_with("ann-") && random.len() == 10);
    }
}
