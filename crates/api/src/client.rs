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
    #[error("`{0}` is not an agent address: use unix:///path/to/roost.sock or tcp://HOST:PORT")]
    BadAddress(String),
    #[error("a tcp:// agent address needs a CLI token (`roost token --cli` on a member; --cli-token or ROOST_CLI_TOKEN): {0}")]
    Token(String),
    #[error("cannot reach the roost agent at {addr}: {detail}")]
    Remote { addr: String, detail: String },
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

/// A client of one agent: over its local socket, or over the cluster port with a token.
#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Endpoint,
}

#[derive(Clone)]
enum Endpoint {
    Unix(PathBuf),
    /// TLS to the cluster port, trusting only the CA the token names; the token's secret
    /// goes as a bearer token.
    Tls { addr: String, config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>, secret: String },
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            Endpoint::Tls { addr, .. } => write!(f, "tcp://{addr}"),
        }
    }
}

impl Client {
    /// `address` is `unix:///path` or a bare path.
    ///
    /// # Errors
    /// [`ClientError::BadAddress`] for any other scheme (use [`Client::with_token`] for tcp://).
    pub fn new(address: &str) -> Result<Self, ClientError> {
        Self::with_token(address, None)
    }

    /// `address` is `unix:///path`, a bare path, or `tcp://HOST:PORT` (which needs `token`,
    /// a remote-CLI token: the CLI trusts the agent only if it proves the token's CA).
    ///
    /// # Errors
    /// [`ClientError::BadAddress`] for other schemes; [`ClientError::Token`] for a
    /// tcp:// address without a valid token.
    pub fn with_token(address: &str, token: Option<&str>) -> Result<Self, ClientError> {
        if let Some(addr) = address.strip_prefix("tcp://") {
            let token = token.ok_or_else(|| ClientError::Token("none given".into()))?;
            let token = roost_pki::JoinToken::parse(token).map_err(|e| ClientError::Token(e.to_string()))?;
            let config = roost_pki::join_client_config(&token.ca_fingerprint).map_err(|e| ClientError::Token(e.to_string()))?;
            return Ok(Client { endpoint: Endpoint::Tls { addr: addr.to_owned(), config, secret: token.secret } });
        }
        let path = match address.strip_prefix("unix://") {
            Some(p) => p,
            None if address.starts_with('/') => address,
            None => return Err(ClientError::BadAddress(address.to_owned())),
        };
        Ok(Client { endpoint: Endpoint::Unix(PathBuf::from(path)) })
    }

    /// Sends one request and returns the raw response (for streams such as logs).
    ///
    /// # Errors
    /// Connection failures, and any non-2xx answer as [`ClientError::Agent`].
    pub async fn send(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Response<Incoming>, ClientError> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "roost")
            .header("content-type", "application/json");
        let mut sender = match &self.endpoint {
            Endpoint::Unix(socket) => {
                let stream = tokio::net::UnixStream::connect(socket)
                    .await
                    .map_err(|source| ClientError::Connect { path: socket.clone(), source })?;
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                sender
            }
            Endpoint::Tls { addr, config, secret } => {
                let remote = |detail: String| ClientError::Remote { addr: addr.clone(), detail };
                let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| remote(e.to_string()))?;
                let name = tokio_rustls::rustls::pki_types::ServerName::try_from(roost_pki::NODE_SERVER_NAME).expect("valid");
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| remote(format!("it did not prove it belongs to the cluster the token names: {e}")))?;
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                req = req.header("authorization", format!("Bearer {secret}"));
                sender
            }
        };
        let req = req.body(Full::new(Bytes::from(body.unwrap_or_default()))).expect("a valid request");
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
