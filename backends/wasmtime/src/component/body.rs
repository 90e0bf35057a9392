//! Between Apache and a `wasi:http` handler: the request handed to it with its body read as it
//! arrives, and the response it gives delivered as it is written. The request and the response
//! are the `http` crate's for WASI 0.2 and 0.3 alike; [`hand_over`] and [`deliver`] are 0.2's
//! resources around them.

use super::RunState;
use crate::{trap, NAME};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use runtime_api::{BoxError, Fields, HttpRequest, HttpResponse, RequestBody, RunError};
use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

/// Makes the request and the place for the response resources of `store`.
pub(super) fn hand_over(
    store: &mut Store<RunState>,
    request: HttpRequest,
    body: Box<dyn RequestBody>,
    sender: tokio::sync::oneshot::Sender<
        Result<
            http::Response<HyperOutgoingBody>,
            wasmtime_wasi_http::p2::bindings::http::types::ErrorCode,
        >,
    >,
) -> Result<
    (
        wasmtime::component::Resource<wasmtime_wasi_http::p2::types::HostIncomingRequest>,
        wasmtime::component::Resource<wasmtime_wasi_http::p2::types::HostResponseOutparam>,
    ),
    RunError,
> {
    let invalid = |doing: &'static str, e: BoxError| RunError::instantiate(NAME, doing, e);
    let scheme = if request.scheme == "https" {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let hyper_request = http_request(request, body)?;
    let mut http = store.data_mut().http();
    let incoming = http
        .new_incoming_request(scheme, hyper_request)
        .map_err(|e| invalid("the request cannot be handed over", e.into()))?;
    let outparam = http
        .new_response_outparam(sender)
        .map_err(|e| invalid("the response cannot be handed over", e.into()))?;
    Ok((incoming, outparam))
}

/// The request as the `http` crate has it, its body read from `body` as the handler consumes it.
pub(super) fn http_request(
    request: HttpRequest,
    body: Box<dyn RequestBody>,
) -> Result<http::Request<ClientBody>, RunError> {
    let invalid = |doing: &'static str, e: BoxError| RunError::instantiate(NAME, doing, e);
    let uri = http::Uri::builder()
        .scheme(request.scheme.as_str())
        .authority(request.authority.as_str())
        .path_and_query(request.path_with_query.as_str())
        .build()
        .map_err(|e| invalid("the request's URL cannot be handed over", e.into()))?;
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(uri);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(ClientBody(Some(body)))
        .map_err(|e| invalid("the request cannot be handed over", e.into()))
}

/// Sends the response a WASI 0.2 handler gives to `response` as it comes (see [`send`]).
pub(super) async fn deliver(
    receiver: tokio::sync::oneshot::Receiver<
        Result<
            http::Response<HyperOutgoingBody>,
            wasmtime_wasi_http::p2::bindings::http::types::ErrorCode,
        >,
    >,
    response: &mut dyn HttpResponse,
) -> Result<(), RunError> {
    let given = match receiver.await {
        Ok(Ok(given)) => given,
        Ok(Err(code)) => {
            return Err(trap(&wasmtime::format_err!(
                "the handler answered with an error instead of a response: {code:?}"
            )))
        }
        Err(_) => {
            return Err(trap(&wasmtime::format_err!(
                "the handler returned without setting a response"
            )))
        }
    };
    send(given, response).await
}

/// Sends `given`, a handler's response, to `response`: the head, then the body as it comes,
/// then its trailers. Ends with the body; a body the handler never finished (it trapped, or
/// dropped it) is an error. The body is read to its end even when the client went away, so
/// that the handler is never left waiting to write.
pub(super) async fn send<B>(
    given: http::Response<B>,
    response: &mut dyn HttpResponse,
) -> Result<(), RunError>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Debug,
{
    let (parts, mut body) = given.into_parts();
    response.head(parts.status.as_u16(), fields(&parts.headers));
    let mut client_gone = false;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            trap(&wasmtime::format_err!(
                "the handler did not finish its response body: {e:?}"
            ))
        })?;
        match frame.into_data() {
            Ok(data) if !client_gone => {
                client_gone = std::io::Write::write_all(response, &data).is_err();
            }
            Ok(_) => {}
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    response.trailers(fields(&trailers));
                }
            }
        }
    }
    Ok(())
}

/// A header or trailer section as mod_wasm passes it on; values that are not UTF-8 are decoded
/// leniently.
fn fields(map: &http::HeaderMap) -> Fields {
    map.iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The request body, read from mod_wasm's stream as the handler consumes it, and then its
/// trailers.
pub(super) struct ClientBody(Option<Box<dyn RequestBody>>);

impl http_body::Body for ClientBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    /// Reads in place: the stream is the request's body as it arrives from the client.
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let Some(reader) = self.0.as_mut() else {
            return Poll::Ready(None);
        };
        let mut buf = BytesMut::zeroed(64 * 1024);
        match reader.read(&mut buf) {
            Ok(0) => {
                let trailers = reader.trailers();
                self.0 = None;
                Poll::Ready(trailer_frame(trailers).map(Ok))
            }
            Ok(n) => {
                buf.truncate(n);
                Poll::Ready(Some(Ok(http_body::Frame::data(buf.freeze()))))
            }
            Err(e) => {
                self.0 = None;
                Poll::Ready(Some(Err(wasmtime_wasi_http::Error::InternalError(Some(
                    format!("reading the request body: {e}"),
                )))))
            }
        }
    }
}

/// The request's trailers as the body's last frame; none when it had none. Fields that are not
/// valid HTTP (which Apache's parser let through) are left out.
fn trailer_frame(trailers: Fields) -> Option<http_body::Frame<Bytes>> {
    let map: http::HeaderMap = trailers
        .into_iter()
        .filter_map(|(name, value)| {
            let name = http::HeaderName::from_bytes(name.as_bytes()).ok()?;
            let value = http::HeaderValue::from_str(&value).ok()?;
            Some((name, value))
        })
        .collect();
    (!map.is_empty()).then(|| http_body::Frame::trailers(map))
}
