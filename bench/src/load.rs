//! A closed-loop HTTP/1.1 load generator: each client keeps one connection alive and sends its
//! next request as soon as the previous response is complete, recording every latency.
//!
//! It checks every response (status and body length), so a handler that fails fast can never
//! pass for a fast handler.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// What the clients send, and what every response must be.
pub struct Target {
    pub port: u16,
    /// The request, bytes as sent (keep-alive, with its body if any).
    pub request: Vec<u8>,
    pub expected_status: u16,
    pub expected_body_len: usize,
    /// How long a client waits for a response before it fails.
    pub timeout: Duration,
}

impl Target {
    pub fn get(port: u16, path: &str, expected_body_len: usize) -> Self {
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").into_bytes();
        Self {
            port,
            request,
            expected_status: 200,
            expected_body_len,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same, waiting up to `timeout` for each response (for handlers that take seconds).
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    /// A POST of `body` whose response echoes it.
    pub fn post_echo(port: u16, path: &str, body: &[u8]) -> Self {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        Self {
            port,
            request,
            expected_status: 200,
            expected_body_len: body.len(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// How long a client waits for a response, unless the target says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// One timed run at a fixed number of clients.
pub struct Run {
    pub requests: usize,
    pub elapsed: Duration,
    /// Every request's latency, sorted.
    pub latencies: Vec<Duration>,
}

impl Run {
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `clients` concurrent clients against `target` for `duration`.
pub fn run(target: &Target, clients: usize, duration: Duration) -> Result<Run, String> {
    let start = Instant::now();
    let deadline = start + duration;
    let per_client: Vec<Result<Vec<Duration>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| scope.spawn(|| client(target, deadline)))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err("a client thread panicked".into()))
            })
            .collect()
    });
    let elapsed = start.elapsed();
    let mut latencies = Vec::new();
    for result in per_client {
        latencies.extend(result?);
    }
    latencies.sort_unstable();
    Ok(Run {
        requests: latencies.len(),
        elapsed,
        latencies,
    })
}

/// One client: requests back to back until `deadline`, reconnecting when the server closes.
fn client(target: &Target, deadline: Instant) -> Result<Vec<Duration>, String> {
    let mut latencies = Vec::new();
    let mut connection: Option<Connection> = None;
    let mut body = Vec::new();
    while Instant::now() < deadline {
        let conn = match connection.as_mut() {
            Some(conn) => conn,
            None => connection.insert(Connection::open(target.port, target.timeout)?),
        };
        let sent = Instant::now();
        let failed = |e: std::io::Error| format!("request to port {} failed: {e}", target.port);
        let response = match conn.exchange(&target.request, &mut body) {
            Ok(response) => response,
            // The server may close a kept-alive connection between two requests (Apache's event
            // MPM closes idle ones while its workers are all busy): retry once on a new
            // connection, as HTTP clients do for requests that can be repeated.
            Err(e) if conn.answered > 0 && closed_before_answering(&e) => connection
                .insert(Connection::open(target.port, target.timeout)?)
                .exchange(&target.request, &mut body)
                .map_err(failed)?,
            Err(e) => return Err(failed(e)),
        };
        latencies.push(sent.elapsed());
        if response.status != target.expected_status || body.len() != target.expected_body_len {
            return Err(format!(
                "unexpected response: status {} with {} body bytes (expected {} with {}): {}",
                response.status,
                body.len(),
                target.expected_status,
                target.expected_body_len,
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ));
        }
        if response.closes {
            connection = None;
        }
    }
    Ok(latencies)
}

struct Connection {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    /// Responses read on this connection so far.
    answered: usize,
}

/// Whether `error` says the server closed the connection before it began a response.
fn closed_before_answering(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionReset, UnexpectedEof};
    matches!(error.kind(), UnexpectedEof | ConnectionReset | BrokenPipe)
}

struct ResponseHead {
    status: u16,
    closes: bool,
}

impl Connection {
    fn open(port: u16, timeout: Duration) -> Result<Self, String> {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .map_err(|e| format!("cannot connect to 127.0.0.1:{port}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(timeout));
        let reader =
            BufReader::with_capacity(64 * 1024, stream.try_clone().map_err(|e| e.to_string())?);
        Ok(Self {
            writer: stream,
            reader,
            answered: 0,
        })
    }

    /// Sends `request` and reads the whole response, its body into `body`.
    fn exchange(&mut self, request: &[u8], body: &mut Vec<u8>) -> std::io::Result<ResponseHead> {
        self.writer.write_all(request)?;
        let head = read_head(&mut self.reader)?;
        body.clear();
        match head.framing {
            Framing::Length(length) => {
                body.resize(length, 0);
                self.reader.read_exact(body)?;
            }
            Framing::Chunked => read_chunked(&mut self.reader, body)?,
            Framing::UntilClose => {
                self.reader.read_to_end(body)?;
            }
        }
        self.answered += 1;
        Ok(ResponseHead {
            status: head.status,
            closes: head.closes || matches!(head.framing, Framing::UntilClose),
        })
    }
}

enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

struct Head {
    status: u16,
    closes: bool,
    framing: Framing,
}

fn invalid(what: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what)
}

fn read_line(reader: &mut impl BufRead, line: &mut String) -> std::io::Result<()> {
    line.clear();
    if reader.read_line(line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

fn read_head(reader: &mut impl BufRead) -> std::io::Result<Head> {
    let mut line = String::new();
    read_line(reader, &mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {line:?}")))?;
    let mut head = Head {
        status,
        closes: false,
        framing: Framing::UntilClose,
    };
    loop {
        read_line(reader, &mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            return Ok(head);
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(invalid(format!("bad header line {header:?}")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let length = value
                .parse()
                .map_err(|_| invalid(format!("bad Content-Length {value:?}")))?;
            head.framing = Framing::Length(length);
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.eq_ignore_ascii_case("chunked")
        {
            head.framing = Framing::Chunked;
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            head.closes = true;
        }
    }
}

fn read_chunked(reader: &mut impl BufRead, body: &mut Vec<u8>) -> std::io::Result<()> {
    let mut line = String::new();
    loop {
        read_line(reader, &mut line)?;
        let size = line.trim_end().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size.trim(), 16)
            .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers, then the blank line that ends the message.
            loop {
                read_line(reader, &mut line)?;
                if line.trim_end().is_empty() {
                    return Ok(());
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        read_line(reader, &mut line)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_chunked_and_sized_responses_back_to_back() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                     5\r\nhello\r\n3;ext=1\r\n!!!\r\n0\r\nX-Trailer: 1\r\n\r\n\
                     HTTP/1.1 503 Busy\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno";
        let mut reader = BufReader::new(&wire[..]);
        let first = read_head(&mut reader).unwrap();
        assert_eq!(first.status, 200);
        assert!(matches!(first.framing, Framing::Chunked));
        let mut body = Vec::new();
        read_chunked(&mut reader, &mut body).unwrap();
        assert_eq!(body, b"hello!!!");
        let second = read_head(&mut reader).unwrap();
        assert_eq!((second.status, second.closes), (503, true));
        assert!(matches!(second.framing, Framing::Length(2)));
    }

    #[test]
    fn a_truncated_response_is_an_error() {
        let mut reader = BufReader::new(&b"HTTP/1.1 200 OK\r\nContent-Le"[..]);
        assert!(read_head(&mut reader).is_err());
    }
}
