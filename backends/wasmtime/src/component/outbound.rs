//! Outgoing `wasi:http` requests of a component: sent only where the location grants.

use runtime_api::{ConnectGuard, Refusal};
use wasmtime_wasi_http::WasiHttpHooks;

/// Outgoing HTTP requests: sent only to the origins the location grants (`WasmAllowConnect
/// host:port`), and the others refused and recorded in the run's guard.
pub(super) struct Outbound(pub(super) ConnectGuard);

type SendFuture = Box<
    dyn std::future::Future<
            Output = Result<
                (
                    http::Response<wasmtime_wasi_http::WasiBody>,
                    Box<
                        dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>>
                            + Send,
                    >,
                ),
                wasmtime_wasi_http::Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> SendFuture {
        let uri = request.uri();
        let host = uri.host().unwrap_or_default().to_owned();
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        if !self.0.grants().allows_origin(&host, port) {
            let authority = uri
                .authority()
                .map_or_else(|| format!("{host}:{port}"), |a| a.to_string());
            self.0.refuse(Refusal::HttpRequest(authority));
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let default = wasmtime_wasi_http::default_hooks();
        default.send_request(request, options, fut)
    }
}
