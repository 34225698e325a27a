//! A local Lambda Runtime API, so the real function binaries run here the way Lambda runs them:
//! the binary polls `GET /2018-06-01/runtime/invocation/next`, gets an event with its request id
//! and deadline, and posts a response or an error back. [`LocalFunction`] starts one binary
//! process against its own endpoint and invokes it.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// How an invocation ended.
type Reply = Result<Value, String>;

struct Invocation {
    request_id: String,
    body: Vec<u8>,
    deadline_ms: u64,
    reply: oneshot::Sender<Reply>,
}

struct Shared {
    next: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Reply>>>,
    init_error: Mutex<Option<String>>,
    /// When the binary first asked for an event: its initialisation is over.
    first_poll: Mutex<Option<Instant>>,
}

/// One function binary running against its own local Runtime API.
#[derive(Debug)]
pub struct LocalFunction {
    name: String,
    child: tokio::process::Child,
    invocations: mpsc::UnboundedSender<Invocation>,
    shared: Arc<SharedHandle>,
    started: Instant,
}

/// `Shared` behind a `Debug` wrapper.
struct SharedHandle(Shared);

impl std::fmt::Debug for SharedHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RuntimeApi")
    }
}

impl LocalFunction {
    /// Starts `binary` as function `name` with `env` (on top of the Lambda variables), its
    /// output appended to `log`.
    ///
    /// # Errors
    /// The endpoint cannot be bound or the binary cannot be started.
    pub async fn start(
        binary: &Path,
        name: &str,
        env: &[(String, String)],
        log: &Path,
    ) -> anyhow::Result<Self> {
        let (invocations, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(SharedHandle(Shared {
            next: tokio::sync::Mutex::new(receiver),
            pending: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
            first_poll: Mutex::new(None),
        }));
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a local Runtime API port")?;
        let address = listener.local_addr()?.to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });

        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let started = Instant::now();
        let child = tokio::process::Command::new(binary)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", &address)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/local/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(LocalFunction {
            name: name.to_owned(),
            child,
            invocations,
            shared,
            started,
        })
    }

    /// Waits until the binary has initialised (asked for its first event) and returns how long
    /// that took from process start.
    ///
    /// # Errors
    /// The binary reported an init error, exited, or took longer than `limit`.
    pub async fn ready(&mut self, limit: Duration) -> anyhow::Result<Duration> {
        let waited = Instant::now();
        loop {
            if let Some(at) = *lock(&self.shared.0.first_poll) {
                return Ok(at - self.started);
            }
            if let Some(err) = lock(&self.shared.0.init_error).clone() {
                bail!("{} failed to initialise: {err}", self.name);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited during init with {status}", self.name);
            }
            if waited.elapsed() > limit {
                bail!("{} did not initialise within {limit:?}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Invokes the function with `payload` and a deadline `timeout` from now.
    ///
    /// # Errors
    /// The function returned an error, exited, or did not answer before the deadline.
    pub async fn invoke(&mut self, payload: &Value, timeout: Duration) -> anyhow::Result<Value> {
        let (reply, answer) = oneshot::channel();
        let deadline = SystemTime::now() + timeout;
        let deadline_ms = deadline
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.invocations
            .send(Invocation {
                request_id: uuid::Uuid::new_v4().to_string(),
                body: serde_json::to_vec(payload)?,
                deadline_ms,
                reply,
            })
            .map_err(|_| anyhow::anyhow!("{} is not accepting invocations", self.name))?;
        // A little grace past the deadline: the function answers right at it at the latest. A
        // process that dies mid-invocation fails it at once, as Lambda does.
        let answer = tokio::time::timeout(timeout + Duration::from_secs(5), answer);
        tokio::select! {
            answered = answer => match answered {
                Ok(Ok(Ok(value))) => Ok(value),
                Ok(Ok(Err(error))) => bail!("{} returned an error: {error}", self.name),
                Ok(Err(_)) => bail!("{} dropped the invocation", self.name),
                Err(_) => bail!("{} timed out", self.name),
            },
            status = self.child.wait() => {
                bail!("{} exited with {} during an invocation", self.name, status?)
            }
        }
    }

    /// Invokes the function with an SQS batch, as the event source mapping does, and reads its
    /// partial-batch response.
    ///
    /// # Errors
    /// As [`LocalFunction::invoke`], or the answer is not a batch response.
    pub async fn invoke_batch(
        &mut self,
        event: &aws_lambda_events::event::sqs::SqsEvent,
        timeout: Duration,
    ) -> anyhow::Result<aws_lambda_events::event::sqs::SqsBatchResponse> {
        let answer = self.invoke(&serde_json::to_value(event)?, timeout).await?;
        serde_json::from_value(answer).context("reading the batch response")
    }

    /// The process id, for reading its memory use.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the process.
    ///
    /// # Errors
    /// The process could not be killed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

async fn next(State(shared): State<Arc<SharedHandle>>) -> Response {
    lock(&shared.0.first_poll).get_or_insert_with(Instant::now);
    let invocation = shared.0.next.lock().await.recv().await;
    let Some(invocation) = invocation else {
        return StatusCode::GONE.into_response();
    };
    lock(&shared.0.pending).insert(invocation.request_id.clone(), invocation.reply);
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", invocation.request_id);
    set(
        "lambda-runtime-deadline-ms",
        invocation.deadline_ms.to_string(),
    );
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:000000000000:function:local".to_owned(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000".to_owned(),
    );
    (headers, invocation.body).into_response()
}

async fn respond(
    State(shared): State<Arc<SharedHandle>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    finish(
        &shared,
        &id,
        serde_json::from_slice(&body).map_err(|err| err.to_string()),
    )
}

async fn fail(
    State(shared): State<Arc<SharedHandle>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    finish(
        &shared,
        &id,
        Err(String::from_utf8_lossy(&body).into_owned()),
    )
}

fn finish(shared: &SharedHandle, id: &str, reply: Reply) -> StatusCode {
    match lock(&shared.0.pending).remove(id) {
        Some(sender) => {
            // The invoker may have given up already; nothing else to do then.
            let _ = sender.send(reply);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn init_error(State(shared): State<Arc<SharedHandle>>, body: Bytes) -> StatusCode {
    *lock(&shared.0.init_error) = Some(String::from_utf8_lossy(&body).into_owned());
    StatusCode::ACCEPTED
}
