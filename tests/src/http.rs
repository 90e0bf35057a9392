//! A deliberately small HTTP/1.1 client: one request per connection, full control over framing
//! (Content-Length or chunked uploads), and a parsed response with the raw body bytes; or, for
//! bodies too large to hold, a body uploaded from a generator while the response is read as it
//! arrives ([`Request::stream`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How a request body is framed.
pub enum Body {
    None,
    /// Sent with a Content-Length header.
    Sized(Vec<u8>),
    /// Sent with `Transfer-Encoding: chunked`, in chunks of the given size, then a trailer
    /// section with these fields.
    Chunked(Vec<u8>, usize, Vec<(String, String)>),
}

pub struct Request {
    port: u16,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Body,
}

impl Request {
    pub fn new(port: u16, method: &str, path: &str) -> Self {
        Self {
            port,
            method: method.to_owned(),
            path: path.to_owned(),
            headers: Vec::new(),
            body: Body::None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Body::Sized(body.into());
        self
    }

    pub fn chunked_body(mut self, body: impl Into<Vec<u8>>, chunk: usize) -> Self {
        self.body = Body::Chunked(body.into(), chunk, Vec::new());
        self
    }

    /// Adds a trailer field after a chunked body.
    pub fn trailer(mut self, name: &str, value: &str) -> Self {
        match &mut self.body {
            Body::Chunked(_, _, trailers) => trailers.push((name.to_owned(), value.to_owned())),
            _ => panic!("only a chunked body has trailers"),
        }
        self
    }

    pub fn send(self) -> Response {
        self.try_send()
            .unwrap_or_else(|e| panic!("{} {} failed: {e}", self.method, self.path))
    }

    /// Sends the request with a body of `len` bytes that `fill` makes (`fill(offset, buf)`
    /// fills `buf` with the bytes at `offset`), from another thread, and returns the response
    /// as soon as its head arrived, to be read as its body arrives.
    pub fn stream(
        mut self,
        len: u64,
        fill: impl Fn(u64, &mut [u8]) + Send + 'static,
    ) -> std::io::Result<StreamedResponse> {
        self.headers
            .push(("Content-Length".to_owned(), len.to_string()));
        let stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut writer = stream.try_clone()?;
        writer.write_all(self.head().as_bytes())?;
        std::thread::spawn(move || {
            let mut buf = vec![0; 64 * 1024];
            let mut offset = 0;
            while offset < len {
                let n = (len - offset).min(buf.len() as u64) as usize;
                fill(offset, &mut buf[..n]);
                if writer.write_all(&buf[..n]).is_err() {
                    return;
                }
                offset += n as u64;
            }
        });
        StreamedResponse::read(stream)
    }

    /// Sends the request, with its whole body, and returns the response as soon as its head
    /// arrived, to be read as its body arrives.
    pub fn open(&self) -> std::io::Result<StreamedResponse> {
        let stream = self.write()?;
        StreamedResponse::read(stream)
    }

    fn head(&self) -> String {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
            self.method, self.path, self.port
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        match &self.body {
            Body::None => {}
            Body::Sized(body) => head.push_str(&format!("Content-Length: {}\r\n", body.len())),
            Body::Chunked(..) => head.push_str("Transfer-Encoding: chunked\r\n"),
        }
        head.push_str("\r\n");
        head
    }

    /// The response, or why none came (the server closed the connection, ...).
    pub fn try_send(&self) -> std::io::Result<Response> {
        let stream = self.write()?;
        Response::read(&stream, self.method == "HEAD")
    }

    /// Connects and sends the request.
    fn write(&self) -> std::io::Result<TcpStream> {
        let stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let head = self.head();
        let mut writer = std::io::BufWriter::new(&stream);
        writer.write_all(head.as_bytes())?;
        match &self.body {
            Body::None => {}
            Body::Sized(body) => writer.write_all(body)?,
            Body::Chunked(body, size, trailers) => {
                for chunk in body.chunks((*size).max(1)) {
                    write!(writer, "{:x}\r\n", chunk.len())?;
                    writer.write_all(chunk)?;
                    writer.write_all(b"\r\n")?;
                }
                writer.write_all(b"0\r\n")?;
                for (name, value) in trailers {
                    write!(writer, "{name}: {value}\r\n")?;
                }
                writer.write_all(b"\r\n")?;
            }
        }
        writer.flush()?;
        drop(writer);
        Ok(stream)
    }
}

/// A response whose body is read as it arrives.
pub struct StreamedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
    /// Bytes left in the current chunk (chunked) or the body (Content-Length); `None` for a
    /// body that ends when the connection does.
    left: Option<u64>,
    chunked: bool,
    ended: bool,
}

impl StreamedResponse {
    fn read(stream: TcpStream) -> std::io::Result<Self> {
        let mut reader = BufReader::new(stream);
        let (status, _, headers) = read_head(&mut reader)?;
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _): &&(String, String)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let chunked =
            header("Transfer-Encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked"));
        let length = header("Content-Length").and_then(|l| l.parse().ok());
        Ok(Self {
            status,
            headers,
            reader,
            left: if chunked { Some(0) } else { length },
            chunked,
            ended: false,
        })
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Reads the rest of the body: how many bytes, if it ended where its framing said, or how
    /// many arrived before it broke off, with the error (`UnexpectedEof` for a cut-off body).
    pub fn read_rest(&mut self) -> Result<u64, (u64, std::io::Error)> {
        let mut buf = vec![0; 64 * 1024];
        let mut received = 0;
        loop {
            match self.read_body(&mut buf) {
                Ok(0) => return Ok(received),
                Ok(n) => received += n as u64,
                Err(e) => return Err((received, e)),
            }
        }
    }

    /// The rest of the body of a `drip` (the probe's, or the `wasi:http` hello's): "first" at
    /// once, "last" two seconds after `started`, then the end of the body.
    pub fn expect_drip(&mut self, started: std::time::Instant, who: &str) {
        let mut buf = [0; 64];
        let n = self.read_body(&mut buf).unwrap();
        let first_after = started.elapsed();
        assert_eq!(&buf[..n], b"first\n", "{who}");
        assert!(
            first_after < std::time::Duration::from_millis(1500),
            "{who}: the first bytes took {first_after:?}"
        );
        let n = self.read_body(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"last\n", "{who}");
        assert!(
            started.elapsed() >= std::time::Duration::from_secs(2),
            "{who}"
        );
        assert_eq!(self.read_body(&mut buf).unwrap(), 0, "{who}");
    }

    /// Reads the next body bytes into `buf`: how many, 0 at the end the framing announced. A
    /// body cut off before that end is an `UnexpectedEof` error.
    pub fn read_body(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let cut_off = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "body cut off");
        if self.ended || buf.is_empty() {
            return Ok(0);
        }
        if self.chunked && self.left == Some(0) {
            let mut size_line = String::new();
            if self.reader.read_line(&mut size_line)? == 0 {
                return Err(cut_off());
            }
            let size_text = size_line.trim().split(';').next().unwrap_or("");
            let size = u64::from_str_radix(size_text, 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {size_line:?}")))?;
            if size == 0 {
                self.ended = true;
                return Ok(0);
            }
            self.left = Some(size);
        }
        let want = match self.left {
            Some(0) => {
                self.ended = true;
                return Ok(0);
            }
            Some(left) => left.min(buf.len() as u64) as usize,
            None => buf.len(),
        };
        let n = self.reader.read(&mut buf[..want])?;
        match (n, self.left) {
            (0, None) => self.ended = true,
            (0, Some(_)) => return Err(cut_off()),
            (n, Some(left)) => {
                self.left = Some(left - n as u64);
                if self.chunked && left == n as u64 {
                    let mut crlf = [0u8; 2];
                    self.reader.read_exact(&mut crlf)?;
                }
            }
            (_, None) => {}
        }
        Ok(n)
    }
}

/// A response's status, reason phrase and headers.
type Head = (u16, String, Vec<(String, String)>);

/// Reads a response's status line and headers.
fn read_head(reader: &mut impl BufRead) -> std::io::Result<Head> {
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let mut parts = status_line.trim_end().splitn(3, ' ');
    let _version = parts.next();
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let reason = parts.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    Ok((status, reason, headers))
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    fn read(stream: &TcpStream, head_only: bool) -> std::io::Result<Self> {
        let mut reader = BufReader::new(stream);
        let (status, reason, headers) = read_head(&mut reader)?;
        let mut response = Self {
            status,
            reason,
            headers,
            body: Vec::new(),
        };
        if head_only {
            return Ok(response);
        }
        let chunked = response
            .header("Transfer-Encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"));
        if chunked {
            response.body = read_chunked(&mut reader)?;
        } else {
            reader.read_to_end(&mut response.body)?;
        }
        Ok(response)
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header called `name`, in order.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size_text = size_line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| std::io::Error::other(format!("bad chunk size {size_line:?}")))?;
        if size == 0 {
            // Trailers until the empty line; the connection closes afterwards anyway.
            let mut rest = Vec::new();
            reader.read_to_end(&mut rest)?;
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}
