//! `roost logs`: the lines of every replica of a service, each prefixed with
//! `service-slot | ` as `docker compose logs` does, merged as they arrive.

use crate::sync::MutexExt as _;
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
    /// Only this node's replicas (what a peer asks when it gathers logs).
    #[serde(default)]
    local: bool,
}

pub(crate) async fn logs(State(agent): State<Arc<Agent>>, Query(q): Query<LogsQuery>) -> Result<Response, ApiError> {
    let driver = agent.driver().await.map_err(|e| ApiError::unavailable(format!("container engine unreachable: {e}")))?;
    let observed = driver.observe().await.map_err(|e| ApiError::unavailable(e.to_string()))?;
    let mut containers: Vec<_> = observed
        .containers
        .into_iter()
        .filter(|c| c.stack == q.stack && q.service.as_ref().is_none_or(|s| *s == c.service))
        .collect();
    if containers.is_empty() && (q.local || remote_holders(&agent, &q).is_empty()) {
        let what = q.service.as_ref().map_or(String::new(), |s| format!(" of service `{s}`"));
        return Err(ApiError::bad_request(format!("no containers{what} in stack `{}` on any reachable node", q.stack)));
    }
    containers.sort_by(|a, b| (&a.service, a.slot).cmp(&(&b.service, b.slot)));
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    if !q.local {
        for addr in remote_holders(&agent, &q) {
            let mut path = format!("/v1/logs?local=true&stack={}&follow={}", q.stack, q.follow);
            if let Some(s) = &q.service {
                path.push_str(&format!("&service={s}"));
            }
            if let Some(n) = q.tail {
                path.push_str(&format!("&tail={n}"));
            }
            let (agent, tx) = (agent.clone(), tx.clone());
            tokio::spawn(async move {
                use http_body_util::BodyExt;
                let Ok(mut body) = crate::peer::get_stream(&agent.cluster.transport, &addr, &path).await else { return };
                while let Some(Ok(frame)) = body.frame().await {
                    if let Ok(data) = frame.into_data() {
                        if tx.send(data).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    }
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

/// Addresses of other nodes whose latest report shows containers the query asks for.
fn remote_holders(agent: &Agent, q: &LogsQuery) -> Vec<String> {
    let state = agent.cluster.state();
    agent
        .reports
        .locked()
        .iter()
        .filter(|(_, (at, r))| {
            at.elapsed() < agent.down_after
                && r.containers.iter().any(|c| c.stack == q.stack && q.service.as_ref().is_none_or(|s| *s == c.service))
        })
        .filter_map(|(id, _)| state.nodes.get(id).map(|n| n.addr.clone()))
        .collect()
}
