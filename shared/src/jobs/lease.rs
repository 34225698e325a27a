//! Atomic, expiring per-workspace leases in `jobs.leases`.
//!
//! Taking a lease is one statement: insert, or take over a row whose lease has expired (or that
//! we already hold). There is no check-then-insert window, and a crashed holder blocks the
//! workspace only until its lease expires.

use std::time::Duration;

use crate::db::Db;
use uuid::Uuid;

use crate::job_kind::LeaseScope;

/// Tries to take the `scope` lease of `ws_id` for `ttl`. Returns whether `holder` now holds it.
///
/// # Errors
/// The database is unreachable.
pub async fn try_acquire(
    pool: &Db,
    scope: LeaseScope,
    ws_id: Uuid,
    holder: Uuid,
    ttl: Duration,
) -> Result<bool, sqlx::Error> {
    let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let taken: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO jobs.leases AS l (scope, ws_id, holder, acquired_at, expires_at)
         VALUES ($1, $2, $3, now(), now() + make_interval(secs => $4::double precision / 1000))
         ON CONFLICT (scope, ws_id) DO UPDATE
             SET holder = excluded.holder, acquired_at = excluded.acquired_at,
                 expires_at = excluded.expires_at
             WHERE l.expires_at <= now() OR l.holder = excluded.holder
         RETURNING holder",
    )
    .bind(scope.as_str())
    .bind(ws_id)
    .bind(holder)
    .bind(millis)
    .fetch_optional(pool)
    .await?;
    Ok(taken == Some(holder))
}

/// Releases the lease if `holder` still holds it. Returns whether a lease was released.
///
/// # Errors
/// The database is unreachable.
pub async fn release(
    pool: &Db,
    scope: LeaseScope,
    ws_id: Uuid,
    holder: Uuid,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM jobs.leases WHERE scope = $1 AND ws_id = $2 AND holder = $3")
            .bind(scope.as_str())
            .bind(ws_id)
            .bind(holder)
            .execute(pool)
            .await?;
    Ok(done.rows_affected() == 1)
}
