//! A deliberately small HTTP/1.1 client: one request per connection, full control over framing
//! (Content-Length or chunked uploads), and a parsed response with the raw body bytes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How a request body is framed.
pub enum Body {
    None,
    /// Sent with a Content-Length header.
    Sized(Vec<u8>),
    /// Sent with `Transfer-Encoding: chunked`, in chunks of the given size.
    Chunked(Vec<u8>, usize),
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
        self.body = Body::Chunked(body.into(), chunk);
        self
    }

    pub fn send(self) -> Response {
        self.try_send()
            .unwrap_or_else(|e| panic!("{} {} failed: {e}", self.method, self.path))
    }

    /// The response, or why none came (the server closed the connection, ...).
    pub fn try_send(&self) -> std::io::Result<Response> {
        let stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
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
        let mut writer = std::io::BufWriter::new(&stream);
        writer.write_all(head.as_bytes())?;
        match &self.body {
            Body::None => {}
            Body::Sized(body) => writer.write_all(body)?,
            Body::Chunked(body, size) => {
                for chunk in body.chunks((*size).max(1)) {
                    write!(writer, "{:x}\r\n", chunk.len())?;
                    writer.write_all(chunk)?;
                    writer.write_all(b"\r\n")?;
                }
                writer.write_all(b"0\r\n\r\n")?;
            }
        }
        writer.flush()?;
        drop(writer);
        Response::read(&stream, self.method == "HEAD")
    }
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
