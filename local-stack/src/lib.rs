//! The local stand-ins for AWS and Google that `jobs local`, `jobs demo` and the integration
//! tests run the functions against: a Lambda Runtime API per function ([`runtime_api`]), the SQS
//! event source mapping ([`event_source`]), a Lambda Function URL ([`function_url`]), a fake
//! Google Calendar ([`fake_google`]), the whole system end to end ([`local`]) with its
//! push-freshness measurement ([`freshness`]), and the demo ([`demo`]).

pub mod demo;
pub mod event_source;
pub mod fake_google;
pub mod freshness;
pub mod function_url;
pub mod local;
pub mod runtime_api;
pub mod table;

use anyhow::Context as _;
use shared::config::{Env, Secret};
use shared::db::{ConnectionMode, Db};

/// Connects to `DATABASE_URL`, reached the way `DATABASE_CONNECTION_MODE` says (default
/// `direct`).
///
/// # Errors
/// A variable is missing or invalid, or the database is unreachable.
pub async fn connect() -> anyhow::Result<Db> {
    let mut env = Env::process();
    let url = Secret::new(env.required("DATABASE_URL"));
    let mode = env.parse_or("DATABASE_CONNECTION_MODE", ConnectionMode::Direct);
    env.finish(())?;
    let pool = Db::connect_lazy(&url, mode, 4)?;
    sqlx::query("SELECT 1")
        .execute(&pool)
        .await
        .context("connecting to DATABASE_URL")?;
    Ok(pool)
}
