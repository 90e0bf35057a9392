//! WASI 0.3 `wasi:http` handlers (`wasi:http/handler`, the `wasi:http/service` world): the
//! handler is an async function of the component model, called in the store's event loop
//! (`run_concurrent`), which also runs the tasks the guest spawns, such as the one writing the
//! response body after the handler has returned it.

use super::body::{http_request, send};
use super::{instantiation_failed, RunState};
use crate::{failure, trap};
use runtime_api::{HttpRequest, HttpResponse, Limits, RunError};
use std::io::Read;
use wasmtime::Store;
use wasmtime_wasi_http::p3::bindings::ServicePre;

/// Instantiates the handler in `store`, hands it `request` with `body`, and sends its response
/// to `response` as it is written. Ends when the response body has been delivered.
pub(super) async fn serve(
    pre: &ServicePre<RunState>,
    store: &mut Store<RunState>,
    request: HttpRequest,
    body: Box<dyn Read + Send>,
    response: &mut dyn HttpResponse,
    limits: &Limits,
) -> Result<(), RunError> {
    let request = http_request(request, body)?;
    let service = pre
        .instantiate_async(&mut *store)
        .await
        .map_err(instantiation_failed)?;
    // The request body's own outcome (a body cut short) reaches the guest as its stream's
    // error; the host has nothing more to learn from it.
    let (request, _body_outcome) =
        wasmtime_wasi_http::p3::Request::from_http(&mut store.data_mut().outbound, request);
    let served = store
        .run_concurrent(async |store| {
            let given = match service.handle(store, request).await {
                Ok(Ok(given)) => given,
                Ok(Err(code)) => {
                    return Err(trap(&wasmtime::format_err!(
                        "the handler answered with an error instead of a response: {code:?}"
                    )))
                }
                Err(e) => return Err(failure(&e, limits)),
            };
            let given = store
                .with(|store| given.into_http(store, async { Ok(()) }))
                .map_err(|e| trap(&e))?;
            send(given, response).await
        })
        .await;
    served.unwrap_or_else(|e| Err(failure(&e, limits)))
}
