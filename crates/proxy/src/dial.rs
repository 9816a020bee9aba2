//! How the proxy opens a connection to a backend address. Plain TCP by default; the
//! agent plugs in a [`Dial`] that reaches replicas on other nodes through the cluster
//! network's encrypted tunnels, under addresses it made up for them.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream to a backend.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

pub type BoxStream = Box<dyn Stream>;
pub type DialFuture = Pin<Box<dyn Future<Output = std::io::Result<BoxStream>> + Send>>;

/// Opens connections to backend addresses (those in the [`crate::Table`]).
pub trait Dial: Send + Sync + std::fmt::Debug + 'static {
    /// A connection to `addr`, ready for HTTP.
    ///
    /// # Errors
    /// Any failure to connect; the proxy counts it as a failed connect (the backend is
    /// ejected and the request tried elsewhere).
    fn dial(&self, addr: SocketAddr) -> DialFuture;
}

/// Plain TCP with `TCP_NODELAY`.
#[derive(Debug, Default)]
pub struct TcpDial;

impl Dial for TcpDial {
    fn dial(&self, addr: SocketAddr) -> DialFuture {
        Box::pin(async move {
            let s = tokio::net::TcpStream::connect(addr).await?;
            let _ = s.set_nodelay(true);
            Ok(Box::new(s) as BoxStream)
        })
    }
}

/// Dials with a timeout, as one connect attempt of the proxy.
pub(crate) async fn dial(
    dialer: &dyn Dial,
    addr: SocketAddr,
    timeout: Duration,
) -> std::io::Result<BoxStream> {
    match tokio::time::timeout(timeout, dialer.dial(addr)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("connect to {addr} timed out"),
        )),
    }
}

/// The pooled client's connector: a URI's authority is a backend address.
#[derive(Debug, Clone)]
pub(crate) struct Connector {
    pub dialer: Arc<dyn Dial>,
    pub timeout: Duration,
}

/// A dialed stream as hyper's client wants it.
pub(crate) struct Conn(TokioIo<BoxStream>);

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl tower_service::Service<Uri> for Connector {
    type Response = Conn;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Conn>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let addr: SocketAddr = uri
                .authority()
                .and_then(|a| a.as_str().parse().ok())
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("not a backend address: {uri}"),
                    )
                })?;
            Ok(Conn(TokioIo::new(
                dial(&*this.dialer, addr, this.timeout).await?,
            )))
        })
    }
}
