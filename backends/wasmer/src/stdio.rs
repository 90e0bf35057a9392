//! Adapters from blocking `Read`/`Write` to the `VirtualFile`s WASIX uses as standard streams.
//!
//! The streams behind them are the client's connection, through Apache's filters; a read or
//! write blocks the run's own thread until the client sends or takes data, bounded by the
//! run's time limit. So every poll completes by blocking in place, as the wasmtime backend's
//! adapters do. While a call blocks, the watchdog's signal is held back (see [`quiet`]).

use runtime_api::{SharedReader, SharedWriter};
use std::fmt;
use std::io::{self, Read, SeekFrom, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};
use virtual_fs::{FsError, VirtualFile};

/// A stream that is not a file: no size, no times, no seeking.
macro_rules! stream_file {
    ($type:ident) => {
        impl VirtualFile for $type {
            fn last_accessed(&self) -> u64 {
                0
            }
            fn last_modified(&self) -> u64 {
                0
            }
            fn created_time(&self) -> u64 {
                0
            }
            fn size(&self) -> u64 {
                0
            }
            fn set_len(&mut self, _: u64) -> virtual_fs::Result<()> {
                Err(FsError::PermissionDenied)
            }
            fn unlink(&mut self) -> virtual_fs::Result<()> {
                Ok(())
            }
            fn poll_read_ready(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
            ) -> Poll<io::Result<usize>> {
                Poll::Ready(Ok(READY_BYTES))
            }
            fn poll_write_ready(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
            ) -> Poll<io::Result<usize>> {
                Poll::Ready(Ok(READY_BYTES))
            }
        }

        impl AsyncSeek for $type {
            fn start_seek(self: Pin<&mut Self>, _: SeekFrom) -> io::Result<()> {
                Err(io::ErrorKind::Unsupported.into())
            }
            fn poll_complete(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<u64>> {
                Poll::Ready(Ok(0))
            }
        }

        impl fmt::Debug for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(stringify!($type))
            }
        }
    };
}

/// Holds the watchdog's signal back from the current thread while the guard lives. Reading the
/// request body or writing the response may wait for the client, and Apache waits again, with
/// its whole timeout, after every signal that interrupts the wait: the watchdog's, repeated
/// until the guest ends, would keep it waiting forever. Held back, the signal reaches the guest
/// once the call returns, and the call itself ends by the run's deadline (the pipeline bounds
/// the client's I/O by it).
fn quiet() -> Option<runtime_api::signals::Blocked> {
    runtime_api::signals::Blocked::new(libc::SIGUSR1).ok()
}

/// What a readiness poll reports: the streams never make the guest wait.
const READY_BYTES: usize = 64 * 1024;

/// The guest's stdin.
pub(crate) struct ReaderFile(SharedReader);

impl ReaderFile {
    pub(crate) fn new(reader: Box<dyn Read + Send>) -> Self {
        Self(SharedReader::new(reader))
    }
}

stream_file!(ReaderFile);

impl AsyncRead for ReaderFile {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let _quiet = quiet();
        let n = self.get_mut().0.read(buf.initialize_unfilled())?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ReaderFile {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::ErrorKind::PermissionDenied.into()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The guest's stdout or stderr.
pub(crate) struct WriterFile(SharedWriter);

impl WriterFile {
    pub(crate) fn new(writer: Box<dyn Write + Send>) -> Self {
        Self(SharedWriter::new(writer))
    }
}

stream_file!(WriterFile);

impl AsyncRead for WriterFile {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::ErrorKind::PermissionDenied.into()))
    }
}

impl AsyncWrite for WriterFile {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let _quiet = quiet();
        Poll::Ready(self.get_mut().0.write(buf))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _quiet = quiet();
        Poll::Ready(self.get_mut().0.flush())
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_api::stdio::OutputBuffer;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn reader_file_yields_the_bytes_then_end_of_file() {
        let mut file = ReaderFile::new(Box::new(io::Cursor::new(b"body\0bytes".to_vec())));
        let mut read = Vec::new();
        block_on(file.read_to_end(&mut read)).unwrap();
        assert_eq!(read, b"body\0bytes");
    }

    #[test]
    fn writer_file_passes_bytes_through_and_refuses_reads() {
        let sink = OutputBuffer::unlimited();
        let mut file = WriterFile::new(Box::new(sink.clone()));
        block_on(file.write_all(&[0, 255, 10])).unwrap();
        assert_eq!(sink.take(), vec![0, 255, 10]);
        let mut buf = [0; 4];
        assert!(block_on(file.read(&mut buf)).is_err());
    }
}
