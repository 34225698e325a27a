//! Per-run metrics as CloudWatch Embedded Metric Format lines on stdout (design §12).
//!
//! The runner records every record it processes and the measures of every succeeded run; `serve`
//! installs the collector and writes what was recorded once per invocation, before the response
//! is posted, so nothing waits in a sandbox that Lambda then freezes or discards. Without a
//! collector (tests, the CLI) recording does nothing.

use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};
use metrics_cloudwatch_embedded::Collector;
use serde_json::Value;

use super::runner::{Outcome, RunResult};
use crate::job_kind::JobKind;

/// The CloudWatch namespace of every metric (the template's alarms name it too).
pub const NAMESPACE: &str = "TuturuuuJobs";

/// A number of a job's run result published as a metric of its own, with dimension `Task`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measure {
    /// The field of the run result.
    pub field: &'static str,
    /// The metric it becomes.
    pub metric: &'static str,
}

impl Measure {
    /// Field `field` of the run result, published as `metric`.
    pub const fn new(field: &'static str, metric: &'static str) -> Self {
        Measure { field, metric }
    }
}

/// Records one processed record: `Runs` (a count), `Duration` (milliseconds) and `Attempt` (the
/// receive count), with dimensions `Task` and `Outcome`.
pub fn record_run(task: JobKind, outcome: &Outcome, attempt: i32, elapsed: Duration) {
    let (task, outcome) = (task.as_str(), outcome.as_str());
    counter!("Runs", "Task" => task, "Outcome" => outcome).increment(1);
    histogram!("Duration", "Task" => task, "Outcome" => outcome)
        .record(elapsed.as_secs_f64() * 1000.0);
    histogram!("Attempt", "Task" => task, "Outcome" => outcome).record(f64::from(attempt));
}

/// The values of `measures` in `result` (fields that are not counts are left out).
pub fn measured(measures: &'static [Measure], result: &RunResult) -> Vec<(&'static str, u64)> {
    measures
        .iter()
        .filter_map(|m| Some((m.metric, result.get(m.field).and_then(Value::as_u64)?)))
        .collect()
}

/// Records a succeeded run's measures, with dimension `Task`.
pub fn record_measures(task: JobKind, values: &[(&'static str, u64)]) {
    for &(metric, value) in values {
        counter!(metric, "Task" => task.as_str()).increment(value);
    }
}

/// The installed collector: what was recorded since the last flush goes to stdout.
#[derive(Clone, Copy)]
pub struct Emitter(&'static Collector);

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Emitter")
    }
}

impl Emitter {
    /// Installs the process-wide collector; `None` (logged) when another recorder already is,
    /// since a function without metrics must still run its jobs.
    pub fn install() -> Option<Emitter> {
        match metrics_cloudwatch_embedded::Builder::new()
            .cloudwatch_namespace(NAMESPACE)
            .init()
        {
            Ok(collector) => {
                describe_counter!("Runs", Unit::Count, "records processed");
                describe_histogram!("Duration", Unit::Milliseconds, "time per record");
                describe_histogram!("Attempt", Unit::Count, "the record's receive count");
                Some(Emitter(collector))
            }
            Err(err) => {
                tracing::warn!(error = %err, "metrics are off: the collector cannot be installed");
                None
            }
        }
    }

    /// Writes one EMF document per dimension set recorded since the last flush.
    pub fn flush(self) {
        if let Err(err) = self.0.flush(std::io::stdout().lock()) {
            tracing::warn!(error = %err, "writing the metrics failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_count_fields_are_measured() {
        const MEASURES: &[Measure] = &[
            Measure::new("inserted", "EventsInserted"),
            Measure::new("timezone", "Timezone"),
            Measure::new("absent", "Absent"),
        ];
        let result = crate::jobs::runner::run_result(json!({
            "inserted": 7, "timezone": "Europe/Berlin"
        }));
        assert_eq!(measured(MEASURES, &result), vec![("EventsInserted", 7)]);
    }
}
