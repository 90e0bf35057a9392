//! Adapters from blocking `Read`/`Write` to wasmtime-wasi's stdio traits.
//!
//! The streams behind them are the client's connection, through Apache's filters: the request
//! body as the client sends it, the response as it takes it. A read or write blocks the run's
//! own thread until then, bounded by the run's time limit (`WasmTimeout`), so blocking in
//! place (as wasmtime-wasi's own `InputFile`/`OutputFile` do) is the right trade-off.

use bytes::{Bytes, BytesMut};
use runtime_api::{SharedReader, SharedWriter};
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wasmtime_wasi::cli::{IsTerminal, StdinStream, StdoutStream};
use wasmtime_wasi::p2::{InputStream, OutputStream, Pollable, StreamError, StreamResult};

/// The most a single guest read asks of the underlying reader.
const READ_CHUNK: usize = 64 * 1024;

fn stream_error(e: io::Error) -> StreamError {
    StreamError::LastOperationFailed(wasmtime::format_err!(e))
}

#[derive(Clone)]
pub(crate) struct BlockingReader(SharedReader);

impl BlockingReader {
    pub(crate) fn new(reader: Box<dyn Read + Send>) -> Self {
        Self(SharedReader::new(reader))
    }
}

impl IsTerminal for BlockingReader {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdinStream for BlockingReader {
    fn p2_stream(&self) -> Box<dyn InputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn AsyncRead + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for BlockingReader {
    async fn ready(&mut self) {}
}

impl InputStream for BlockingReader {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let mut buf = BytesMut::zeroed(size.min(READ_CHUNK));
        let n = self.0.read(&mut buf).map_err(stream_error)?;
        if n == 0 && size > 0 {
            return Err(StreamError::Closed);
        }
        buf.truncate(n);
        Ok(buf.freeze())
    }
}

impl AsyncRead for BlockingReader {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let result = self.get_mut().0.read(buf.initialize_unfilled());
        Poll::Ready(result.map(|n| buf.advance(n)))
    }
}

#[derive(Clone)]
pub(crate) struct BlockingWriter(SharedWriter);

impl BlockingWriter {
    pub(crate) fn new(writer: Box<dyn Write + Send>) -> Self {
        Self(SharedWriter::new(writer))
    }
}

impl IsTerminal for BlockingWriter {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BlockingWriter {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for BlockingWriter {
    async fn ready(&mut self) {}
}

impl OutputStream for BlockingWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.0.write_all(&bytes).map_err(stream_error)
    }
    fn flush(&mut self) -> StreamResult<()> {
        self.0.flush().map_err(stream_error)
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(READ_CHUNK)
    }
}

impl AsyncWrite for BlockingWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.get_mut().0.write_all(buf).map(|()| buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.get_mut().0.flush())
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
