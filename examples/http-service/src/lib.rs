//! A WASI 0.3 wasi:http handler (the `wasi:http/service` world), built for wasm32-wasip2. Its
//! handler is an async function: the response is returned at once and its body is written by
//! a task of the component's own while the host delivers it. The last segment of the request's
//! path picks what it does:
//!
//!   echo      the request body back, as it arrives, under the request's content type
//!   trailers  the request body read to its end; answered with the request's trailers, one
//!             `name: value` line each, and with them and `x-body-length` as the response's
//!             trailers
//!   headers   status 201, two `set-cookie` headers and the request's method in `x-method`
//!   status    the status given as the query string (`status?418`)
//!   drip      "first", then two seconds later "last"
//!   trap      a panic, which traps, before any response
//!   count     how many requests this instance has handled, this one included
//!   fetch     a GET of the URL given as the query string (`wasi:http/client`), answered with
//!             the status and body that came back, or 502 and the error
//!   (other)   a greeting
use std::sync::atomic::{AtomicU32, Ordering};
use wasip3::http::types::{ErrorCode, Fields, Method, Request, Response, Scheme};
use wasip3::wit_bindgen::{self, StreamResult};
use wasip3::{wit_future, wit_stream};

wasip3::http::service::export!(Handler);

struct Handler;

/// Requests this instance has handled.
static HANDLED: AtomicU32 = AtomicU32::new(0);

impl wasip3::exports::http::handler::Guest for Handler {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let handled = HANDLED.fetch_add(1, Ordering::Relaxed) + 1;
        let path_with_query = request.get_path_with_query().unwrap_or_default();
        let (path, query) = path_with_query
            .split_once('?')
            .unwrap_or((&path_with_query, ""));
        let text = [("content-type", "text/plain")];
        match path.rsplit('/').next().unwrap_or("") {
            "echo" => echo(request),
            "trailers" => trailers(request).await,
            "headers" => {
                let method = method_name(&request.get_method());
                respond(
                    201,
                    &[
                        ("content-type", "text/plain"),
                        ("set-cookie", "a=1"),
                        ("set-cookie", "b=2"),
                        ("x-method", &method),
                    ],
                    vec![b"headers\n".to_vec()],
                )
            }
            "status" => match query.parse() {
                Ok(status) => respond(status, &text, vec![format!("status {status}\n").into()]),
                Err(_) => respond(400, &text, vec![b"use status?NNN\n".to_vec()]),
            },
            "drip" => {
                let (mut body, contents) = wit_stream::new();
                let response = response(200, &text, contents)?;
                wit_bindgen::spawn_local(async move {
                    body.write_all(b"first\n".to_vec()).await;
                    wasip3::clocks::monotonic_clock::wait_for(2_000_000_000).await;
                    body.write_all(b"last\n".to_vec()).await;
                });
                Ok(response)
            }
            "trap" => panic!("the request asked for a trap"),
            "count" => respond(200, &text, vec![format!("{handled}\n").into()]),
            "fetch" => match get(query).await {
                Ok((status, body)) => respond(
                    200,
                    &[
                        ("content-type", "text/plain"),
                        ("x-upstream-status", &status.to_string()),
                    ],
                    vec![body],
                ),
                Err(error) => respond(
                    502,
                    &text,
                    vec![format!("cannot fetch {query}: {error}\n").into()],
                ),
            },
            _ => respond(
                200,
                &text,
                vec![b"Hello from a WASI 0.3 wasi:http component!\n".to_vec()],
            ),
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

/// A response with `status` and `headers` whose body is what is written to `contents`.
fn response(
    status: u16,
    headers: &[(&str, &str)],
    contents: wit_bindgen::StreamReader<u8>,
) -> Result<Response, ErrorCode> {
    // No trailers: the future resolves to none when its writer is dropped.
    let (_, trailers) = wit_future::new(|| Ok(None));
    response_with_trailers(status, headers, contents, trailers)
}

/// A response with `status` and `headers` whose body is what is written to `contents`, and
/// whose trailers are what `trailers` resolves to.
fn response_with_trailers(
    status: u16,
    headers: &[(&str, &str)],
    contents: wit_bindgen::StreamReader<u8>,
    trailers: wit_bindgen::FutureReader<Result<Option<Fields>, ErrorCode>>,
) -> Result<Response, ErrorCode> {
    let fields: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&fields)
        .map_err(|e| ErrorCode::InternalError(Some(format!("headers: {e:?}"))))?;
    let (response, _delivered) = Response::new(fields, Some(contents), trailers);
    response
        .set_status_code(status)
        .map_err(|()| ErrorCode::InternalError(Some(format!("status {status}"))))?;
    Ok(response)
}

/// A response whose body is `chunks`, written by a task once the handler has returned.
fn respond(
    status: u16,
    headers: &[(&str, &str)],
    chunks: Vec<Vec<u8>>,
) -> Result<Response, ErrorCode> {
    let (mut body, contents) = wit_stream::new();
    let response = response(status, headers, contents)?;
    wit_bindgen::spawn_local(async move {
        for chunk in chunks {
            body.write_all(chunk).await;
        }
    });
    Ok(response)
}

/// The request body back, each chunk written as it is read.
fn echo(request: Request) -> Result<Response, ErrorCode> {
    let content_type = request
        .get_headers()
        .get("content-type")
        .first()
        .map(|value| String::from_utf8_lossy(value).into_owned())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let (_, consumed) = wit_future::new(|| Ok(()));
    let (mut input, _trailers) = Request::consume_body(request, consumed);
    let (mut body, contents) = wit_stream::new();
    let response = response(200, &[("content-type", &content_type)], contents)?;
    wit_bindgen::spawn_local(async move {
        loop {
            let (result, chunk) = input.read(Vec::with_capacity(64 * 1024)).await;
            match result {
                StreamResult::Complete(_) => {
                    if !body.write_all(chunk).await.is_empty() {
                        break;
                    }
                }
                StreamResult::Dropped | StreamResult::Cancelled => break,
            }
        }
    });
    Ok(response)
}

/// Reads the request body to its end, then its trailers, and answers with them: as text in the
/// body, and as the response's trailers after it, with the body's length in `x-body-length`.
async fn trailers(request: Request) -> Result<Response, ErrorCode> {
    let (_, consumed) = wit_future::new(|| Ok(()));
    let (input, trailers) = Request::consume_body(request, consumed);
    let length = input.collect().await.len();
    let received = match trailers.await? {
        Some(fields) => fields.copy_all(),
        None => Vec::new(),
    };
    let listed: String = received
        .iter()
        .map(|(name, value)| format!("{name}: {}\n", String::from_utf8_lossy(value)))
        .collect();
    let mut sent = received;
    sent.push(("x-body-length".to_owned(), length.to_string().into_bytes()));
    let sent = Fields::from_list(&sent)
        .map_err(|e| ErrorCode::InternalError(Some(format!("trailers: {e:?}"))))?;
    let (mut body, contents) = wit_stream::new();
    let (trailer_writer, trailers) = wit_future::new(|| Ok(None));
    let response =
        response_with_trailers(200, &[("content-type", "text/plain")], contents, trailers)?;
    wit_bindgen::spawn_local(async move {
        body.write_all(listed.into_bytes()).await;
        drop(body);
        let _ = trailer_writer.write(Ok(Some(sent))).await;
    });
    Ok(response)
}

/// GETs `url` (`http://authority/path`) through `wasi:http/client`: its status and body.
async fn get(url: &str) -> Result<(u16, Vec<u8>), String> {
    let (scheme, rest) = url.split_once("://").ok_or("not an absolute URL")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => return Err(format!("no scheme {other}")),
    };
    let (_, trailers) = wit_future::new(|| Ok(None));
    let (request, _sent) = Request::new(Fields::new(), None, trailers, None);
    let path = if path.is_empty() { "/" } else { path };
    request
        .set_scheme(Some(&scheme))
        .and_then(|()| request.set_authority(Some(authority)))
        .and_then(|()| request.set_path_with_query(Some(path)))
        .map_err(|()| format!("cannot request {url}"))?;
    let response = wasip3::http::client::send(request)
        .await
        .map_err(|e| format!("{e:?}"))?;
    let status = response.get_status_code();
    let (_, consumed) = wit_future::new(|| Ok(()));
    let (body, _trailers) = Response::consume_body(response, consumed);
    Ok((status, body.collect().await))
}
