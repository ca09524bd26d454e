//! Families: create one, join one with its invitation code, list its members, leave it, and (the
//! founder) remove a member. A user belongs to at most one family, and only its members see it.

use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use crate::{
    accounts::{User, user_from_row},
    db::{Db, is_unique_violation, now_ms},
    error::{PlatformError, PlatformResult},
    secrets::random_code,
};

/// A family and its members.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Family {
    /// Numeric id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// The code others type to join.
    pub invitation_code: String,
    /// Who created it.
    pub created_by: i64,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Every member, oldest first.
    pub users: Vec<User>,
}

const INVITATION_CODE_LEN: usize = 12;

/// Creates a family with `user` as its first member.
pub async fn create(db: &Db, user: &User, name: &str) -> PlatformResult<Family> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(PlatformError::Invalid(
            "family name must be 1–100 characters".into(),
        ));
    }
    if user.family_id.is_some() {
        return Err(PlatformError::Conflict(
            "you already belong to a family".into(),
        ));
    }
    let mut tx = db.pool().begin().await?;
    let mut attempt = 0;
    let family_id: i64 = loop {
        attempt += 1;
        let inserted = sqlx::query(
            "INSERT INTO families (name, invitation_code, created_by, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(random_code(INVITATION_CODE_LEN))
        .bind(user.id)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await;
        match inserted {
            Ok(row) => break row.try_get("id")?,
            Err(err) if is_unique_violation(&err) && attempt < 5 => continue,
            Err(err) => return Err(err.into()),
        }
    };
    let updated =
        sqlx::query("UPDATE users SET family_id = $1 WHERE id = $2 AND family_id IS NULL")
            .bind(family_id)
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
    if updated.rows_affected() != 1 {
        return Err(PlatformError::Conflict(
            "you already belong to a family".into(),
        ));
    }
    tx.commit().await?;
    get(db, family_id).await
}

/// Adds `user` to the family whose invitation code is `code`.
pub async fn join(db: &Db, user: &User, code: &str) -> PlatformResult<Family> {
    let code = code.trim().to_ascii_uppercase();
    let row = sqlx::query("SELECT id FROM families WHERE invitation_code = $1")
        .bind(&code)
        .fetch_optional(db.pool())
        .await?
        .ok_or(PlatformError::NotFound("family with this invitation code"))?;
    let family_id: i64 = row.try_get("id")?;
    if user.family_id == Some(family_id) {
        return get(db, family_id).await;
    }
    let updated =
        sqlx::query("UPDATE users SET family_id = $1 WHERE id = $2 AND family_id IS NULL")
            .bind(family_id)
            .bind(user.id)
            .execute(db.pool())
            .await?;
    if updated.rows_affected() != 1 {
        return Err(PlatformError::Conflict(
            "you already belong to another family".into(),
        ));
    }
    get(db, family_id).await
}

/// The family `family_id`, as seen by `viewer`: only members may read it.
pub async fn get_for(db: &Db, viewer: &User, family_id: i64) -> PlatformResult<Family> {
    if viewer.family_id != Some(family_id) {
        // Same answer whether it exists or not: family ids are not to be probed.
        return Err(PlatformError::NotFound("family"));
    }
    get(db, family_id).await
}

/// Takes `user` out of their family. The family, its code and its drawings stay for the others
/// (a founder who leaves is still named as its founder).
pub async fn leave(db: &Db, user: &User) -> PlatformResult<()> {
    let family_id = user.family_id.ok_or(PlatformError::NotFound(
        "family (you have not created or joined one)",
    ))?;
    sqlx::query("UPDATE users SET family_id = NULL WHERE id = $1 AND family_id = $2")
        .bind(user.id)
        .bind(family_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Removes `member_id` from the family `family_id`. Only the family's founder may; the founder
/// leaves with [`leave`] rather than removing themself.
pub async fn remove_member(
    db: &Db,
    founder: &User,
    family_id: i64,
    member_id: i64,
) -> PlatformResult<Family> {
    let family = get_for(db, founder, family_id).await?;
    if family.created_by != founder.id {
        return Err(PlatformError::Forbidden(
            "only the family's founder can remove members".into(),
        ));
    }
    if member_id == founder.id {
        return Err(PlatformError::Conflict(
            "you cannot remove yourself: leave the family instead".into(),
        ));
    }
    let removed = sqlx::query("UPDATE users SET family_id = NULL WHERE id = $1 AND family_id = $2")
        .bind(member_id)
        .bind(family_id)
        .execute(db.pool())
        .await?;
    if removed.rows_affected() != 1 {
        return Err(PlatformError::NotFound("member of this family"));
    }
    get(db, family_id).await
}

async fn get(db: &Db, family_id: i64) -> PlatformResult<Family> {
    let row = sqlx::query(
        "SELECT id, name, invitation_code, created_by, created_at FROM families WHERE id = $1",
    )
    .bind(family_id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(PlatformError::NotFound("family"))?;
    let members = sqlx::query(
        "SELECT id, username, gender, role, family_id, created_at FROM users \
         WHERE family_id = $1 ORDER BY id",
    )
    .bind(family_id)
    .fetch_all(db.pool())
    .await?;
    Ok(Family {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        invitation_code: row.try_get("invitation_code")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        users: members
            .iter()
            .map(user_from_row)
            .collect::<PlatformResult<_>>()?,
    })
}
