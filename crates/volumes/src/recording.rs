//! A backend wrapper that records every file written, in order.

use rustic_core::{BytesList, FileType, Id, ReadBackend, RusticResult, WriteBackend};
use std::sync::{Arc, Mutex, PoisonError};

/// Forwards everything to `inner`, and notes each file it writes, with its size.
#[derive(Debug)]
pub(crate) struct Recording {
    inner: Arc<dyn WriteBackend>,
    written: Mutex<Vec<(FileType, Id, u64)>>,
}

impl Recording {
    pub(crate) fn new(inner: Arc<dyn WriteBackend>) -> Recording {
        Recording { inner, written: Mutex::new(Vec::new()) }
    }

    /// The files written since the last call, in the order they were written.
    pub(crate) fn take(&self) -> Vec<(FileType, Id, u64)> {
        std::mem::take(&mut *self.written.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl ReadBackend for Recording {
    fn location(&self) -> String {
        self.inner.location()
    }

    fn list_with_size(&self, tpe: FileType) -> RusticResult<Vec<(Id, u32)>> {
        self.inner.list_with_size(tpe)
    }

    fn read_full(&self, tpe: FileType, id: &Id) -> RusticResult<bytes::Bytes> {
        self.inner.read_full(tpe, id)
    }

    fn read_partial(&self, tpe: FileType, id: &Id, cacheable: bool, offset: u32, length: u32) -> RusticResult<bytes::Bytes> {
        self.inner.read_partial(tpe, id, cacheable, offset, length)
    }

    fn warmup_path(&self, tpe: FileType, id: &Id) -> String {
        self.inner.warmup_path(tpe, id)
    }
}

impl WriteBackend for Recording {
    fn create(&self) -> RusticResult<()> {
        self.inner.create()
    }

    fn write_bytes(&self, tpe: FileType, id: &Id, cacheable: bool, content: BytesList) -> RusticResult<()> {
        let size = content.size() as u64;
        self.inner.write_bytes(tpe, id, cacheable, content)?;
        self.written.lock().unwrap_or_else(PoisonError::into_inner).push((tpe, *id, size));
        Ok(())
    }

    fn remove(&self, tpe: FileType, id: &Id, cacheable: bool) -> RusticResult<()> {
        self.inner.remove(tpe, id, cacheable)
    }
}
