//! Request bodies that a handler refused before reading them all are read to their end
//! in the background, within a bound. Closing a socket with unread data makes the kernel
//! answer with a reset, which can destroy the error response (a 413 for an oversized
//! upload, say) before the client has read it; draining lets the response arrive and the
//! connection close cleanly or serve its next request.
use axum::body::HttpBody;
use hyper::body::{Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// At most this much of a refused body is read: beyond it, the reset is the lesser harm.
const DRAIN_BYTES: usize = 64 * 1024 * 1024;
/// And for at most this long (the request-body timeout also ends a stalled drain).
const DRAIN_FOR: Duration = Duration::from_secs(10);

/// A body that, dropped before its end, drains the rest on the runtime.
pub struct DrainOnDrop<B: HttpBody + Send + 'static> {
    inner: Option<Pin<Box<B>>>,
}

impl<B: HttpBody + Send + 'static> DrainOnDrop<B> {
    pub fn new(body: B) -> Self {
        DrainOnDrop {
            inner: Some(Box::pin(body)),
        }
    }
}

impl<B: HttpBody + Send + 'static> HttpBody for DrainOnDrop<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.inner.as_mut() {
            Some(body) => body.as_mut().poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl<B: HttpBody + Send + 'static> Drop for DrainOnDrop<B> {
    fn drop(&mut self) {
        let Some(mut body) = self.inner.take() else {
            return;
        };
        if body.is_end_stream() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let drain = async {
                let mut left = DRAIN_BYTES;
                while let Some(Ok(frame)) =
                    std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await
                {
                    let read = frame.data_ref().map_or(0, bytes::Buf::remaining);
                    left = left.saturating_sub(read);
                    if left == 0 {
                        return;
                    }
                }
            };
            let _ = tokio::time::timeout(DRAIN_FOR, drain).await;
        });
    }
}
