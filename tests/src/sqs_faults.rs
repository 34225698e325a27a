//! A fault-injecting HTTP proxy in front of the local SQS server.
//!
//! It forwards every request unchanged, except the first `n` `SendMessageBatch` calls: from
//! each it removes the first entry before forwarding and reports that entry as failed
//! (`InternalError`, not the sender's fault) in the response, the way SQS reports a transient
//! per-entry failure. The entry really was not delivered, so only a retry delivers it. It also
//! records the body of every message sent through it, so tests can read what went on a queue.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};

#[derive(Debug, Default)]
struct Counters {
    remaining: AtomicUsize,
    injected: AtomicUsize,
    /// Bodies of every `SendMessage`/`SendMessageBatch` request seen.
    sends: Mutex<Vec<String>>,
}

/// A running proxy.
#[derive(Debug, Clone)]
pub struct FaultyProxy {
    /// Where clients should send requests.
    pub url: String,
    counters: Arc<Counters>,
}

impl FaultyProxy {
    /// Starts a proxy to `upstream` that fails one entry of each of the first `failures`
    /// `SendMessageBatch` calls (none: a recording pass-through).
    pub async fn start(upstream: &str, failures: usize) -> Self {
        let counters = Arc::new(Counters {
            remaining: AtomicUsize::new(failures),
            ..Counters::default()
        });
        let state = (
            upstream.trim_end_matches('/').to_owned(),
            counters.clone(),
            reqwest::Client::new(),
        );
        let app =
            axum::Router::new().fallback(
                move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                    let (upstream, counters, client) = state.clone();
                    async move {
                        forward(&upstream, &counters, &client, method, uri, headers, body).await
                    }
                },
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FaultyProxy { url, counters }
    }

    /// Entries reported as failed so far.
    pub fn injected(&self) -> usize {
        self.counters.injected.load(Ordering::SeqCst)
    }

    /// Faults still to inject.
    pub fn remaining(&self) -> usize {
        self.counters.remaining.load(Ordering::SeqCst)
    }

    /// The request bodies of every message sent through the proxy so far.
    pub fn sends(&self) -> Vec<String> {
        self.counters
            .sends
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }
}

async fn forward(
    upstream: &str,
    counters: &Counters,
    client: &reqwest::Client,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap, Bytes) {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let is_batch = target.ends_with(".SendMessageBatch");
    if is_batch || target.ends_with(".SendMessage") {
        counters
            .sends
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push(String::from_utf8_lossy(&body).into_owned());
    }
    let mut dropped = None;
    let mut body = body;
    if is_batch
        && counters
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    {
        let mut request: Value = serde_json::from_slice(&body).unwrap();
        let entries = request["Entries"].as_array_mut().unwrap();
        dropped = Some(entries.remove(0)["Id"].clone());
        body = Bytes::from(serde_json::to_vec(&request).unwrap());
    }

    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = client.request(method, format!("{upstream}{path}"));
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            outgoing = outgoing.header(name, value);
        }
    }
    let response = outgoing.body(body).send().await.unwrap();
    let status = response.status();
    let mut response_headers = HeaderMap::new();
    for (name, value) in response.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response_headers.insert(name, value.clone());
        }
    }
    let mut payload = response.bytes().await.unwrap();
    if let Some(id) = dropped {
        let mut answer: Value = serde_json::from_slice(&payload).unwrap();
        let failed = answer
            .as_object_mut()
            .unwrap()
            .entry("Failed")
            .or_insert_with(|| json!([]));
        failed.as_array_mut().unwrap().push(json!({
            "Id": id,
            "SenderFault": false,
            "Code": "InternalError",
            "Message": "injected by the test proxy",
        }));
        counters.injected.fetch_add(1, Ordering::SeqCst);
        payload = Bytes::from(serde_json::to_vec(&answer).unwrap());
    }
    (status, response_headers, payload)
}
