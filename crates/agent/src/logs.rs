//! `roost logs`: the lines of every replica of a service, each prefixed with
//! `service-slot | ` as `docker compose logs` does, merged as they arrive.

use crate::api::ApiError;
use crate::Agent;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub(crate) struct LogsQuery {
    stack: String,
    service: Option<String>,
    #[serde(default)]
    follow: bool,
    tail: Option<u64>,
}

pub(crate) async fn logs(State(agent): State<Arc<Agent>>, Query(q): Query<LogsQuery>) -> Result<Response, ApiError> {
    let driver = agent.driver().await.map_err(|e| ApiError::unavailable(format!("container engine unreachable: {e}")))?;
    let observed = driver.observe().await.map_err(|e| ApiError::unavailable(e.to_string()))?;
    let mut containers: Vec<_> = observed
        .containers
        .into_iter()
        .filter(|c| c.stack == q.stack && q.service.as_ref().is_none_or(|s| *s == c.service))
        .collect();
    if containers.is_empty() {
        let what = q.service.as_ref().map_or(String::new(), |s| format!(" of service `{s}`"));
        return Err(ApiError::bad_request(format!("no containers{what} in stack `{}` on this node", q.stack)));
    }
    containers.sort_by(|a, b| (&a.service, a.slot).cmp(&(&b.service, b.slot)));
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    for c in containers {
        let prefix = format!("{}-{} | ", c.service, c.slot);
        let stream = driver.logs(&c.id, q.follow, q.tail);
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            let mut partial = BytesMut::new();
            while let Some(Ok(chunk)) = stream.next().await {
                partial.extend_from_slice(&chunk);
                while let Some(pos) = partial.iter().position(|b| *b == b'\n') {
                    let line = partial.split_to(pos + 1);
                    let mut out = BytesMut::from(prefix.as_bytes());
                    out.extend_from_slice(&line);
                    if tx.send(out.freeze()).await.is_err() {
                        return;
                    }
                }
            }
            if !partial.is_empty() {
                let mut out = BytesMut::from(prefix.as_bytes());
                out.extend_from_slice(&partial);
                out.extend_from_slice(b"\n");
                let _ = tx.send(out.freeze()).await;
            }
        });
    }
    drop(tx);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
    });
    Ok(Response::builder()
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::from_stream(body))
        .expect("a valid response"))
}
