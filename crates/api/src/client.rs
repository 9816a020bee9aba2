//! The CLI's client: one HTTP/1.1 connection per request over the agent's Unix socket.

use crate::ErrorBody;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("`{0}` is not an agent address: use unix:///path/to/roost.sock")]
    BadAddress(String),
    #[error("cannot reach the roost agent at {path}: {source}\n(is `roost agent` running? start it, or point --host / ROOST_HOST at its socket)")]
    Connect { path: PathBuf, source: std::io::Error },
    #[error("talking to the roost agent failed: {0}")]
    Http(#[from] hyper::Error),
    #[error("the agent answered with something that is not the expected JSON: {0}")]
    Decode(#[from] serde_json::Error),
    /// The agent refused or failed the request; its message is the whole story.
    #[error("{message}")]
    Agent { status: StatusCode, message: String },
}

/// A client of one agent.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    /// `address` is `unix:///path` or a bare path.
    ///
    /// # Errors
    /// [`ClientError::BadAddress`] for any other scheme.
    pub fn new(address: &str) -> Result<Self, ClientError> {
        let path = match address.strip_prefix("unix://") {
            Some(p) => p,
            None if address.starts_with('/') => address,
            None => return Err(ClientError::BadAddress(address.to_owned())),
        };
        Ok(Client { socket: PathBuf::from(path) })
    }

    /// Sends one request and returns the raw response (for streams such as logs).
    ///
    /// # Errors
    /// Connection failures, and any non-2xx answer as [`ClientError::Agent`].
    pub async fn send(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Response<Incoming>, ClientError> {
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|source| ClientError::Connect { path: self.socket.clone(), source })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "roost")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .expect("a valid request");
        let resp = sender.send_request(req).await?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        let message = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| format!("agent answered {status}: {}", String::from_utf8_lossy(&bytes)));
        Err(ClientError::Agent { status, message })
    }

    /// A JSON request with a JSON answer.
    ///
    /// # Errors
    /// As [`Client::send`], plus [`ClientError::Decode`].
    pub async fn call<T: DeserializeOwned>(&self, method: Method, path: &str, body: Option<&impl Serialize>) -> Result<T, ClientError> {
        let body = body.map(serde_json::to_vec).transpose()?;
        let resp = self.send(method, path, body).await?;
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok(serde_json::from_slice(&bytes)?)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call(Method::GET, path, None::<&()>).await
    }
}
