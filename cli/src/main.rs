const USAGE: &str = "usage: jobs <command>

commands:
  migrate   apply the migrations in migrations/ to DATABASE_URL
  demo      seed a demo workspace, enqueue schedule-task messages (and two poison ones) on
            the local SQS server, drain the queue through the schedule-task handler the way
            the event source mapping does, and print the runs and the moved events";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init_tracing("warn");
    match std::env::args().nth(1).as_deref() {
        Some("migrate") => jobs_cli::migrate().await,
        Some("demo") => jobs_cli::demo::run().await,
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}
