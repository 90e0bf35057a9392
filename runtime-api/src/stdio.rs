//! The standard streams of one run.
//!
//! Streams are owned, `Send` and `'static` because engines move them into their WASI contexts,
//! sometimes onto their own threads. [`OutputBuffer`] captures a run's output: a cloneable
//! handle to bytes that stay readable after the run. Engines whose WASI wants streams that are
//! also `Sync` or `Clone` wrap them in [`SharedReader`] and [`SharedWriter`].

use crate::sync::lock;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

/// stdin, stdout and stderr for one run.
pub struct Stdio {
    pub stdin: Box<dyn Read + Send>,
    pub stdout: Box<dyn Write + Send>,
    pub stderr: Box<dyn Write + Send>,
}

impl Stdio {
    /// Empty stdin; output discarded.
    pub fn null() -> Self {
        Self {
            stdin: Box::new(io::empty()),
            stdout: Box::new(io::sink()),
            stderr: Box::new(io::sink()),
        }
    }
}

/// A stream to read from, shareable between threads and handles: every clone reads from the
/// same stream.
#[derive(Clone)]
pub struct SharedReader(Arc<Mutex<Box<dyn Read + Send>>>);

impl SharedReader {
    pub fn new(reader: Box<dyn Read + Send>) -> Self {
        Self(Arc::new(Mutex::new(reader)))
    }
}

impl Read for SharedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        lock(&self.0).read(buf)
    }
}

/// A stream to write to, shareable between threads and handles: every clone writes to the
/// same stream.
#[derive(Clone)]
pub struct SharedWriter(Arc<Mutex<Box<dyn Write + Send>>>);

impl SharedWriter {
    pub fn new(writer: Box<dyn Write + Send>) -> Self {
        Self(Arc::new(Mutex::new(writer)))
    }

    /// Writes go to `writer` from now on; returns the writer they went to.
    pub fn redirect(&self, writer: Box<dyn Write + Send>) -> Box<dyn Write + Send> {
        std::mem::replace(&mut *lock(&self.0), writer)
    }
}

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        lock(&self.0).write(buf)
    }
    /// Writes `buf` under one lock, so whole writes from different handles never interleave.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        lock(&self.0).write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        lock(&self.0).flush()
    }
}

/// A shared, size-limited byte buffer: one handle goes into the sandbox as a sink, another
/// reads the bytes once the run is over.
///
/// What happens past the limit is chosen when the buffer is made: a buffer whose contents are
/// the response [fails](OutputBuffer::with_limit) the write, so the guest sees an I/O error
/// instead of the host running out of memory; a buffer kept for the log
/// [drops](OutputBuffer::dropping_beyond) the rest and counts it, so a chatty guest is not
/// failed for what it logs.
#[derive(Clone, Default)]
pub struct OutputBuffer {
    inner: Arc<Mutex<Captured>>,
}

#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    limit: Option<usize>,
    overflow: Overflow,
    truncated: bool,
    dropped: u64,
}

/// What a write past the limit does.
#[derive(Clone, Copy, Default)]
enum Overflow {
    #[default]
    Fail,
    Drop,
}

impl OutputBuffer {
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// Keeps at most `limit` bytes; a write past it stores what fits and then fails.
    pub fn with_limit(limit: usize) -> Self {
        Self::limited(limit, Overflow::Fail)
    }

    /// Keeps at most `limit` bytes; what is written past it is accepted and dropped.
    pub fn dropping_beyond(limit: usize) -> Self {
        Self::limited(limit, Overflow::Drop)
    }

    fn limited(limit: usize, overflow: Overflow) -> Self {
        let buffer = Self::default();
        {
            let mut captured = buffer.lock();
            captured.limit = Some(limit);
            captured.overflow = overflow;
        }
        buffer
    }

    fn lock(&self) -> MutexGuard<'_, Captured> {
        lock(&self.inner)
    }

    /// Takes the bytes written so far, leaving the buffer empty.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.lock().bytes)
    }

    /// Whether a write was cut short by the limit.
    pub fn truncated(&self) -> bool {
        self.lock().truncated
    }

    /// How many bytes were written past the limit and dropped.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }
}

impl Write for OutputBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut captured = self.lock();
        let room = match captured.limit {
            Some(limit) => limit.saturating_sub(captured.bytes.len()),
            None => usize::MAX,
        };
        let n = buf.len().min(room);
        captured.bytes.extend_from_slice(&buf[..n]);
        if n == buf.len() {
            return Ok(n);
        }
        captured.truncated = true;
        match captured.overflow {
            Overflow::Drop => {
                captured.dropped += (buf.len() - n) as u64;
                Ok(buf.len())
            }
            Overflow::Fail if n > 0 => Ok(n),
            Overflow::Fail => Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "output limit reached",
            )),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_streams_are_one_stream_behind_every_clone() {
        let mut first = SharedReader::new(Box::new(io::Cursor::new(b"abcd".to_vec())));
        let mut second = first.clone();
        let mut buf = [0; 2];
        first.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ab");
        second.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"cd");

        let sink = OutputBuffer::unlimited();
        let mut out = SharedWriter::new(Box::new(sink.clone()));
        out.write_all(b"one ").unwrap();
        out.clone().write_all(b"two").unwrap();
        assert_eq!(sink.take(), b"one two");
    }

    #[test]
    fn output_buffer_keeps_bytes_for_the_other_handle() {
        let reader = OutputBuffer::unlimited();
        let mut writer = reader.clone();
        writer.write_all(b"\x00\xffbinary").unwrap();
        assert_eq!(reader.take(), b"\x00\xffbinary");
        assert!(!reader.truncated());
    }

    #[test]
    fn output_buffer_stops_at_its_limit() {
        let reader = OutputBuffer::with_limit(4);
        let mut writer = reader.clone();
        assert_eq!(writer.write(b"abcdef").unwrap(), 4);
        assert!(writer.write(b"g").is_err());
        assert!(reader.truncated());
        assert_eq!(reader.take(), b"abcd");
    }

    #[test]
    fn a_dropping_buffer_accepts_everything_and_counts_what_it_dropped() {
        let reader = OutputBuffer::dropping_beyond(4);
        let mut writer = reader.clone();
        writer.write_all(b"abcdef").unwrap();
        writer.write_all(b"ghi").unwrap();
        assert!(reader.truncated());
        assert_eq!(reader.dropped(), 5);
        assert_eq!(reader.take(), b"abcd");
    }
}
