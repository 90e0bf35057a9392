//! A wasi:http handler (the `wasi:http/proxy` world), built for wasm32-wasip2. The last segment
//! of the request's path picks what it does:
//!
//!   echo      the request body back, as it arrives, under the request's content type
//!   trailers  the request body read to its end; answered with the request's trailers, one
//!             `name: value` line each, and with them and `x-body-length` as the response's
//!             trailers
//!   headers   status 201, two `set-cookie` headers and the request's method in `x-method`
//!   status    the status given as the query string (`status?418`), which HTTP may not name
//!   drip      "first", then two seconds later "last"
//!   trap      a panic, which traps, before any response
//!   fetch     a GET of the URL given as the query string, answered with the status and body
//!             that came back, or 502 and the error
//!   connect   a TCP connection (`wasi:sockets`, through std) to the `host:port` given as the
//!             query string: "connected to ADDRESS", or 502 and the error
//!   (other)   a greeting
use std::io::{Read as _, Write as _};
use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingRequest, OutgoingResponse,
    ResponseOutparam, Scheme,
};
use wasip2::io::streams::OutputStream;

wasip2::http::proxy::export!(Handler);

struct Handler;

impl wasip2::exports::http::incoming_handler::Guest for Handler {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path_with_query = request.path_with_query().unwrap_or_default();
        let (path, query) = path_with_query
            .split_once('?')
            .unwrap_or((&path_with_query, ""));
        match path.rsplit('/').next().unwrap_or("") {
            "echo" => echo(request, out),
            "trailers" => trailers(request, out),
            "headers" => {
                let method = method_name(&request.method());
                let response = Response::start(
                    out,
                    201,
                    &[
                        ("content-type", "text/plain"),
                        ("set-cookie", "a=1"),
                        ("set-cookie", "b=2"),
                        ("x-method", &method),
                    ],
                );
                response.finish(b"headers\n");
            }
            "status" => match query.parse() {
                Ok(status) => Response::start(out, status, &[("content-type", "text/plain")])
                    .finish(format!("status {status}\n").as_bytes()),
                Err(_) => Response::start(out, 400, &[("content-type", "text/plain")])
                    .finish(b"use status?NNN\n"),
            },
            "drip" => {
                let mut response = Response::start(out, 200, &[("content-type", "text/plain")]);
                response.stream.write_all(b"first\n").unwrap();
                response.stream.flush().unwrap();
                wasip2::clocks::monotonic_clock::subscribe_duration(2_000_000_000).block();
                response.finish(b"last\n");
            }
            "trap" => panic!("the request asked for a trap"),
            "fetch" => fetch(query, out),
            "connect" => match std::net::TcpStream::connect(query).and_then(|s| s.peer_addr()) {
                Ok(address) => Response::start(out, 200, &[("content-type", "text/plain")])
                    .finish(format!("connected to {address}\n").as_bytes()),
                Err(error) => Response::start(out, 502, &[("content-type", "text/plain")])
                    .finish(format!("cannot connect to {query}: {error}\n").as_bytes()),
            },
            _ => Response::start(out, 200, &[("content-type", "text/plain")])
                .finish(b"Hello from a wasi:http component!\n"),
        }
    }
}

/// The method as HTTP writes it.
fn method_name(method: &Method) -> String {
    match method {
        Method::Get => "GET".to_owned(),
        Method::Head => "HEAD".to_owned(),
        Method::Post => "POST".to_owned(),
        Method::Put => "PUT".to_owned(),
        Method::Delete => "DELETE".to_owned(),
        Method::Connect => "CONNECT".to_owned(),
        Method::Options => "OPTIONS".to_owned(),
        Method::Trace => "TRACE".to_owned(),
        Method::Patch => "PATCH".to_owned(),
        Method::Other(other) => other.clone(),
    }
}

/// A response whose head is set: its body is written to `stream`.
struct Response {
    body: OutgoingBody,
    stream: OutputStream,
}

impl Response {
    fn start(out: ResponseOutparam, status: u16, headers: &[(&str, &str)]) -> Self {
        let fields: Vec<(String, Vec<u8>)> = headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect();
        let response = OutgoingResponse::new(Fields::from_list(&fields).unwrap());
        response.set_status_code(status).unwrap();
        let body = response.body().unwrap();
        ResponseOutparam::set(out, Ok(response));
        let stream = body.write().unwrap();
        Self { body, stream }
    }

    fn finish(self, last: &[u8]) {
        self.finish_with_trailers(last, None);
    }

    fn finish_with_trailers(mut self, last: &[u8], trailers: Option<Fields>) {
        self.stream.write_all(last).unwrap();
        self.stream.flush().unwrap();
        drop(self.stream);
        OutgoingBody::finish(self.body, trailers).unwrap();
    }
}

fn echo(request: IncomingRequest, out: ResponseOutparam) {
    let content_type = request
        .headers()
        .get("content-type")
        .first()
        .map(|value| String::from_utf8_lossy(value).into_owned())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let body = request.consume().unwrap();
    let mut input = body.stream().unwrap();
    let mut response = Response::start(out, 200, &[("content-type", &content_type)]);
    let mut buf = vec![0; 64 * 1024];
    loop {
        match std::io::Read::read(&mut input, &mut buf) {
            Ok(0) => break,
            Ok(n) => response.stream.write_all(&buf[..n]).unwrap(),
            Err(e) => panic!("reading the request body: {e}"),
        }
    }
    drop(input);
    response.finish(b"");
}

/// Reads the request body to its end, then its trailers, and answers with them: as text in the
/// body, and as the response's trailers after it, with the body's length in `x-body-length`.
fn trailers(request: IncomingRequest, out: ResponseOutparam) {
    let body = request.consume().unwrap();
    let mut input = body.stream().unwrap();
    let mut length = 0;
    let mut buf = vec![0; 64 * 1024];
    loop {
        match std::io::Read::read(&mut input, &mut buf) {
            Ok(0) => break,
            Ok(n) => length += n,
            Err(e) => panic!("reading the request body: {e}"),
        }
    }
    drop(input);
    let trailers = IncomingBody::finish(body);
    trailers.subscribe().block();
    let received = match trailers.get() {
        Some(Ok(Ok(Some(fields)))) => fields.entries(),
        Some(Ok(Ok(None))) => Vec::new(),
        other => panic!("the request's trailers: {other:?}"),
    };
    let listed: String = received
        .iter()
        .map(|(name, value)| format!("{name}: {}\n", String::from_utf8_lossy(value)))
        .collect();
    let mut sent = received;
    sent.push(("x-body-length".to_owned(), length.to_string().into_bytes()));
    Response::start(out, 200, &[("content-type", "text/plain")])
        .finish_with_trailers(listed.as_bytes(), Some(Fields::from_list(&sent).unwrap()));
}

fn fetch(url: &str, out: ResponseOutparam) {
    match get(url) {
        Ok((status, body)) => {
            let status = status.to_string();
            Response::start(
                out,
                200,
                &[
                    ("content-type", "text/plain"),
                    ("x-upstream-status", &status),
                ],
            )
            .finish(&body)
        }
        Err(error) => Response::start(out, 502, &[("content-type", "text/plain")])
            .finish(format!("{error}\n").as_bytes()),
    }
}

/// GETs `url` (`http://host:port/path`): the status and body, or what went wrong.
fn get(url: &str) -> Result<(u16, Vec<u8>), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http:// URL: {url:?}"))?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    request.set_method(&Method::Get).unwrap();
    request.set_scheme(Some(&Scheme::Http)).unwrap();
    request.set_authority(Some(authority)).unwrap();
    request.set_path_with_query(Some(path)).unwrap();
    let future = wasip2::http::outgoing_handler::handle(request, None)
        .map_err(|e| format!("the request was refused: {e:?}"))?;
    future.subscribe().block();
    let response = future
        .get()
        .ok_or("no response")?
        .map_err(|()| "the response was taken already")?
        .map_err(|e| format!("the request failed: {e:?}"))?;
    let status = response.status();
    let body = response.consume().map_err(|()| "no body")?;
    let mut stream = body.stream().map_err(|()| "no body stream")?;
    let mut bytes = Vec::new();
    stream
        .read_to_end(&mut bytes)
        .map_err(|e| format!("reading the body: {e}"))?;
    Ok((status, bytes))
}
