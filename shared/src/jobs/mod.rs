//! The job framework: what turns a Lambda's SQS batch into runs that are done once, retried
//! with backoff, or dead-lettered, and what the functions build at init to serve it.

pub mod backoff;
pub mod dead_letter;
pub mod lease;
pub mod ledger;
pub mod metrics;
pub mod runner;
pub mod worker;
