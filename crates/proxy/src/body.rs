//! Request body wrappers: a byte limit with progress tracking, and a hand-off
//! that lets a request be retried as long as no attempt has read its body.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Instant;

/// The error type of every body the proxy handles.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every response the proxy sends.
pub type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

/// The request body was larger than the configured limit.
#[derive(Debug, thiserror::Error)]
#[error("request body larger than {0} bytes")]
pub(crate) struct TooLarge(u64);

/// Shared between a request body on its way to the backend and the handler
/// waiting for the response.
#[derive(Debug)]
pub(crate) struct Meter {
    start: Instant,
    /// Nanoseconds after `start` of the last body frame (or of the start).
    last: AtomicU64,
    exceeded: AtomicBool,
}

impl Meter {
    pub fn new() -> Arc<Self> {
        Arc::new(Meter {
            start: Instant::now(),
            last: AtomicU64::new(0),
            exceeded: AtomicBool::new(false),
        })
    }

    fn touch(&self) {
        let nanos = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last.store(nanos, Ordering::Relaxed);
    }

    /// When the request last made progress: the response timeout counts from
    /// here, so a long upload is not cut off by the time it takes to send.
    pub fn last_progress(&self) -> Instant {
        self.start + std::time::Duration::from_nanos(self.last.load(Ordering::Relaxed))
    }

    /// Whether the body went over the limit, which makes the answer a 413.
    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Relaxed)
    }
}

/// Passes a body through, failing once more than `limit` bytes went by.
#[derive(Debug)]
pub(crate) struct Metered<B> {
    inner: B,
    seen: u64,
    limit: Option<u64>,
    meter: Arc<Meter>,
}

impl<B> Metered<B> {
    pub fn new(inner: B, limit: Option<u64>, meter: Arc<Meter>) -> Self {
        Metered {
            inner,
            seen: 0,
            limit,
            meter,
        }
    }
}

impl<B> Body for Metered<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx)).map(|r| r.map_err(Into::into));
        self.meter.touch();
        if let Some(data) = frame
            .as_ref()
            .and_then(|f| f.as_ref().ok())
            .and_then(Frame::data_ref)
        {
            self.seen += data.len() as u64;
            if let Some(limit) = self.limit.filter(|l| self.seen > *l) {
                self.meter.exceeded.store(true, Ordering::Relaxed);
                return Poll::Ready(Some(Err(TooLarge(limit).into())));
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body waiting for the attempt that reads it. Each attempt gets a
/// [`Taker`]; the first one hyper polls takes the body. Until then the request is
/// safe to send elsewhere (for a connect failure nothing was read).
#[derive(Debug)]
pub(crate) struct Shared<B> {
    slot: Arc<Mutex<Option<B>>>,
    end_stream: bool,
    size: SizeHint,
}

impl<B: Body> Shared<B> {
    pub fn new(body: B) -> Self {
        Shared {
            end_stream: body.is_end_stream(),
            size: body.size_hint(),
            slot: Arc::new(Mutex::new(Some(body))),
        }
    }

    /// Whether no attempt has started reading the body.
    pub fn untouched(&self) -> bool {
        self.slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    pub fn taker(&self) -> Taker<B> {
        Taker {
            slot: self.slot.clone(),
            body: None,
            end_stream: self.end_stream,
            size: self.size,
        }
    }
}

/// One attempt's view of a [`Shared`] body.
#[derive(Debug)]
pub(crate) struct Taker<B> {
    slot: Arc<Mutex<Option<B>>>,
    body: Option<B>,
    // Reported before the first poll, so hyper frames the request (length,
    // chunked or none) as the original without taking the body.
    end_stream: bool,
    size: SizeHint,
}

/// A second attempt asked for a body an earlier attempt already consumed.
#[derive(Debug, thiserror::Error)]
#[error("the request body was already sent to another backend")]
pub(crate) struct AlreadyTaken;

impl<B> Body for Taker<B>
where
    B: Body<Data = Bytes, Error = BoxError> + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.body.is_none() {
            let taken = self
                .slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            match taken {
                Some(b) => self.body = Some(b),
                None => return Poll::Ready(Some(Err(AlreadyTaken.into()))),
            }
        }
        match self.body.as_mut() {
            Some(b) => Pin::new(b).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body
            .as_ref()
            .map_or(self.end_stream, Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| self.size, Body::size_hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    #[tokio::test]
    async fn the_limit_fails_the_stream_and_marks_the_meter() {
        let meter = Meter::new();
        let body = Metered::new(
            Full::new(Bytes::from(vec![0u8; 10])),
            Some(9),
            meter.clone(),
        );
        assert!(body.collect().await.is_err());
        assert!(meter.exceeded());
        let meter = Meter::new();
        let body = Metered::new(
            Full::new(Bytes::from(vec![0u8; 10])),
            Some(10),
            meter.clone(),
        );
        assert_eq!(body.collect().await.unwrap().to_bytes().len(), 10);
        assert!(!meter.exceeded());
    }

    #[tokio::test]
    async fn only_the_first_reader_gets_the_body() {
        let meter = Meter::new();
        let shared = Shared::new(Metered::new(
            Full::new(Bytes::from_static(b"abc")),
            None,
            meter,
        ));
        let (first, second) = (shared.taker(), shared.taker());
        assert!(shared.untouched());
        assert_eq!(first.size_hint().exact(), Some(3));
        assert_eq!(&first.collect().await.unwrap().to_bytes()[..], b"abc");
        assert!(!shared.untouched());
        assert!(second.collect().await.is_err());
    }
}
