//! Freshness: how long a change in a Google calendar takes to be a row in Postgres. Used by
//! `jobs local` (after the first sync, one change per demo calendar through the push path) and
//! by the freshness benchmark.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;
use shared::db::Db;
use tokio::sync::watch;
use uuid::Uuid;

use crate::event_source::EventSource;
use crate::fake_google::FakeGoogle;
use crate::runtime_api::LocalFunction;

/// How often the follower asks an empty queue again. Lambda's pollers long-poll; a short
/// pause here keeps the local server idle without adding more than this to a measurement.
const IDLE_PAUSE: Duration = Duration::from_millis(20);

/// A function instance that takes every batch of its queue as soon as it is visible, as the
/// event source mapping does for a function that is already warm.
#[derive(Debug)]
pub struct Follower {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<usize>>,
}

impl Follower {
    /// Starts following `source` with `function`.
    pub fn start(mut function: LocalFunction, source: EventSource) -> Follower {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut received = 0;
            while !*stopped.borrow() {
                let Some(event) = source.poll().await? else {
                    tokio::select! {
                        () = tokio::time::sleep(IDLE_PAUSE) => {}
                        _ = stopped.changed() => {}
                    }
                    continue;
                };
                received += event.records.len();
                match function
                    .invoke_batch(&event, Duration::from_secs(120))
                    .await
                {
                    Ok(response) => {
                        source.settle(&event, &response).await?;
                    }
                    // The batch comes back after its visibility timeout, as on Lambda.
                    Err(err) => tracing::warn!(error = %err, "invocation failed"),
                }
            }
            function.stop().await?;
            Ok(received)
        });
        Follower { stop, task }
    }

    /// Stops following; returns how many messages were received.
    ///
    /// # Errors
    /// Polling, settling or stopping the function failed.
    pub async fn stop(self) -> anyhow::Result<usize> {
        let _ = self.stop.send(true);
        self.task.await.context("the follower task failed")?
    }
}

/// One calendar event to change.
#[derive(Debug, Clone)]
pub struct Watched<'a> {
    pub ws_id: Uuid,
    pub account: &'a str,
    pub calendar: &'a str,
    /// A Google `Event` resource the calendar holds; its summary is changed.
    pub event: Value,
}

/// Changes the event's summary to `title` in the fake calendar and waits until its row in
/// Postgres has it; returns how long that took.
///
/// # Errors
/// The row did not change within `limit`, or the database failed.
pub async fn time_change(
    pool: &Db,
    fake: &FakeGoogle,
    watched: &Watched<'_>,
    title: &str,
    limit: Duration,
) -> anyhow::Result<Duration> {
    let mut event = watched.event.clone();
    event["summary"] = Value::from(title);
    let event_id = event["id"].as_str().unwrap_or_default().to_owned();
    let started = Instant::now();
    fake.put_event(watched.account, watched.calendar, event);
    loop {
        let arrived: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM public.workspace_calendar_events
                            WHERE ws_id = $1 AND google_event_id = $2 AND title = $3)",
        )
        .bind(watched.ws_id)
        .bind(&event_id)
        .bind(title)
        .fetch_one(pool)
        .await
        .context("reading the changed event's row")?;
        if arrived {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            bail!("the change to event {event_id} did not reach Postgres within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The `q`-quantile (0 to 1) of `samples`, nearest rank; zero when there are none.
pub fn quantile(samples: &[Duration], q: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let Some(last) = sorted.len().checked_sub(1) else {
        return Duration::ZERO;
    };
    // Nearest rank: the smallest sample with at least q of them at or below it.
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[rank.min(last)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        let samples = ms(&[50, 10, 40, 20, 30]);
        assert_eq!(quantile(&samples, 0.5), Duration::from_millis(30));
        assert_eq!(quantile(&samples, 0.95), Duration::from_millis(50));
        assert_eq!(quantile(&samples, 0.0), Duration::from_millis(10));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }
}
