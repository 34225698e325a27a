//! A fault-injecting HTTP proxy in front of the local SQS server.
//!
//! It forwards every request unchanged, except the first `n` `SendMessageBatch` calls: from
//! each it removes the first entry before forwarding and reports that entry as failed
//! (`InternalError`, not the sender's fault) in the response, the way SQS reports a transient
//! per-entry failure. The entry really was not delivered, so only a retry delivers it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};

/// A running proxy.
#[derive(Debug, Clone)]
pub struct FaultyProxy {
    /// Where clients should send requests.
    pub url: String,
    remaining: Arc<AtomicUsize>,
    injected: Arc<AtomicUsize>,
}

impl FaultyProxy {
    /// Starts a proxy to `upstream` that fails one entry of each of the first `failures`
    /// `SendMessageBatch` calls.
    pub async fn start(upstream: &str, failures: usize) -> Self {
        let remaining = Arc::new(AtomicUsize::new(failures));
        let injected = Arc::new(AtomicUsize::new(0));
        let state = (
            upstream.trim_end_matches('/').to_owned(),
            remaining.clone(),
            injected.clone(),
            reqwest::Client::new(),
        );
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (upstream, remaining, injected, client) = state.clone();
                async move {
                    forward(
                        &upstream, &remaining, &injected, &client, method, uri, headers, body,
                    )
                    .await
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FaultyProxy {
            url,
            remaining,
            injected,
        }
    }

    /// Entries reported as failed so far.
    pub fn injected(&self) -> usize {
        self.injected.load(Ordering::SeqCst)
    }

    /// Faults still to inject.
    pub fn remaining(&self) -> usize {
        self.remaining.load(Ordering::SeqCst)
    }
}

#[allow(clippy::too_many_arguments)]
async fn forward(
    upstream: &str,
    remaining: &AtomicUsize,
    injected: &AtomicUsize,
    client: &reqwest::Client,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap, Bytes) {
    let is_batch = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|target| target.ends_with(".SendMessageBatch"));
    let mut dropped = None;
    let mut body = body;
    if is_batch
        && remaining
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
        injected.fetch_add(1, Ordering::SeqCst);
        payload = Bytes::from(serde_json::to_vec(&answer).unwrap());
    }
    (status, response_headers, payload)
}
