//! A local stand-in for a Lambda Function URL: an HTTP server that turns each request into the
//! event Lambda delivers (payload format 2.0, `LambdaFunctionUrlRequest`), invokes the function
//! binary through its local Runtime API, and answers with the status code the function
//! returned. Requests are handled one at a time, as by one function instance; a function that
//! fails or times out is answered 502, as Lambda answers it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use crate::runtime_api::LocalFunction;

/// A function binary behind a local HTTP address.
#[derive(Debug)]
pub struct FunctionUrl {
    /// Where requests go (`http://127.0.0.1:<port>/`).
    pub url: String,
    function: Arc<Mutex<LocalFunction>>,
    server: tokio::task::JoinHandle<()>,
}

/// How long one request may run: the template's `Timeout` of the webhook function.
const TIMEOUT: Duration = Duration::from_secs(3);

impl FunctionUrl {
    /// Serves `function` (already started and initialised) on a free local port.
    ///
    /// # Errors
    /// No local port could be bound.
    pub async fn serve(function: LocalFunction) -> anyhow::Result<Self> {
        let function = Arc::new(Mutex::new(function));
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(function.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a local Function URL port")?;
        let url = format!("http://{}/", listener.local_addr()?);
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::warn!(error = %err, "the local Function URL stopped");
            }
        });
        Ok(FunctionUrl {
            url,
            function,
            server,
        })
    }

    /// Stops serving and stops the function.
    ///
    /// # Errors
    /// The process could not be killed.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.server.abort();
        let _ = self.server.await;
        match Arc::try_unwrap(self.function) {
            Ok(function) => function.into_inner().stop().await,
            // A request still holds it: it is killed when that request drops it.
            Err(_) => Ok(()),
        }
    }
}

async fn forward(
    State(function): State<Arc<Mutex<LocalFunction>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let event = request_event(&method, &uri, &headers, &body);
    let answer = function.lock().await.invoke(&event, TIMEOUT).await;
    match answer {
        Ok(response) => response["statusCode"]
            .as_u64()
            .and_then(|status| u16::try_from(status).ok())
            .and_then(|status| StatusCode::from_u16(status).ok())
            .unwrap_or(StatusCode::OK),
        Err(err) => {
            tracing::warn!(error = %err, "the function behind the local Function URL failed");
            StatusCode::BAD_GATEWAY
        }
    }
}

/// The event Lambda builds from an HTTP request: lower-case header names, repeated headers
/// joined with commas.
fn request_event(method: &Method, uri: &Uri, headers: &HeaderMap, body: &str) -> Value {
    let mut joined: Map<String, Value> = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match joined.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                joined.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let header = |name: &str| joined.get(name).cloned().unwrap_or(Value::Null);
    let epoch_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    json!({
        "version": "2.0",
        "rawPath": uri.path(),
        "rawQueryString": uri.query().unwrap_or_default(),
        "headers": joined,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": header("host"),
            "domainPrefix": "local",
            "http": {
                "method": method.as_str(),
                "path": uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": header("user-agent"),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": epoch_ms,
        },
        "body": (!body.is_empty()).then_some(body),
        "isBase64Encoded": false,
    })
}
