//! WASI 0.2 and 0.3 components: which kind of program a file holds, and how a `wasi:http`
//! handler is given a request.
//!
//! A core module (WASI preview1) and a WASI 0.2 command (`wasi:cli/run`) are run CGI-style:
//! arguments, environment, stdin and stdout. A `wasi:http` handler, of WASI 0.2
//! (`wasi:http/incoming-handler`) or 0.3 (`wasi:http/handler`), is given the request itself,
//! and answers with a status, headers and a body ([`HttpHandler`]). Only runtimes with
//! [`Capability::Components`](crate::Capability::Components) run components.

use crate::{ExecutionConfig, RunReport, Stdio};
use std::fmt;
use std::io::{Read, Write};

/// What a WebAssembly file holds, as far as mod_wasm runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramKind {
    /// A core module: a WASI preview1 command, or a module with another entry point.
    CoreModule,
    /// A component exporting `wasi:cli/run`: a WASI 0.2 command.
    Command,
    /// A component exporting `wasi:http/incoming-handler` (WASI 0.2's `wasi:http/proxy` world).
    HttpHandler,
    /// A component exporting `wasi:http/handler` (WASI 0.3's `wasi:http/service` world): an
    /// async handler.
    HttpService,
}

impl ProgramKind {
    pub fn is_component(self) -> bool {
        self != ProgramKind::CoreModule
    }
}

impl fmt::Display for ProgramKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProgramKind::CoreModule => "a core module",
            ProgramKind::Command => "a WASI 0.2 command component (wasi:cli/run)",
            ProgramKind::HttpHandler => {
                "a WASI 0.2 HTTP handler component (wasi:http/incoming-handler)"
            }
            ProgramKind::HttpService => "a WASI 0.3 HTTP handler component (wasi:http/handler)",
        })
    }
}

/// The interfaces whose export makes a component one of the kinds mod_wasm runs, without their
/// patch versions: any WASI 0.2 release, and WASI 0.3's.
const HTTP_HANDLER_EXPORT: &str = "wasi:http/incoming-handler@0.2";
const HTTP_SERVICE_EXPORT: &str = "wasi:http/handler@0.3";
const COMMAND_EXPORT: &str = "wasi:cli/run@0.2";

/// What `wasm` holds. A component is a handler if it exports `wasi:http/incoming-handler` (0.2)
/// or `wasi:http/handler` (0.3), else a command if it exports `wasi:cli/run`; a component that
/// exports none is an error, which lists what it exports. Whether the rest of the file is
/// valid is the runtime's to say.
pub fn classify(wasm: &[u8]) -> Result<ProgramKind, String> {
    if !wasmparser::Parser::is_component(wasm) {
        return Ok(ProgramKind::CoreModule);
    }
    let exports = component_exports(wasm)?;
    let exports_one = |prefix: &str| exports.iter().any(|name| name.starts_with(prefix));
    if exports_one(HTTP_HANDLER_EXPORT) {
        Ok(ProgramKind::HttpHandler)
    } else if exports_one(HTTP_SERVICE_EXPORT) {
        Ok(ProgramKind::HttpService)
    } else if exports_one(COMMAND_EXPORT) {
        Ok(ProgramKind::Command)
    } else {
        Err(format!(
            "the component exports none of wasi:http/incoming-handler, wasi:cli/run (WASI 0.2) \
             and wasi:http/handler (WASI 0.3); it exports: {}",
            if exports.is_empty() {
                "nothing".to_owned()
            } else {
                exports.join(", ")
            }
        ))
    }
}

/// The functions `wasm`, a core module, exports, by name.
pub fn core_function_exports(wasm: &[u8]) -> Result<Vec<String>, String> {
    use wasmparser::{ExternalKind, Payload};
    let mut exports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| format!("not a valid module: {e}"))?;
        if let Payload::ExportSection(section) = payload {
            for export in section {
                let export = export.map_err(|e| format!("not a valid module: {e}"))?;
                if export.kind == ExternalKind::Func {
                    exports.push(export.name.to_owned());
                }
            }
        }
    }
    Ok(exports)
}

/// The names the outermost component of `wasm` exports.
fn component_exports(wasm: &[u8]) -> Result<Vec<String>, String> {
    use wasmparser::Payload;
    let mut exports = Vec::new();
    // Nested modules and components come as payloads of their own, each closed by an `End`.
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| format!("not a valid component: {e}"))?;
        match payload {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    let export = export.map_err(|e| format!("not a valid component: {e}"))?;
                    exports.push(export.name.0.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(exports)
}

/// A request as a `wasi:http` handler receives it. The body comes separately, as a stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`, as the client addressed the server.
    pub authority: String,
    /// The path and query string as the client sent them.
    pub path_with_query: String,
    /// Every header of the request, in order.
    pub headers: Fields,
}

/// HTTP fields (a header or trailer section) in order, as `(name, value)`; repeated names stay
/// separate.
pub type Fields = Vec<(String, String)>;

/// The body of a request as a handler reads it: its bytes as the client sends them, then the
/// trailer fields that followed them (a chunked request's trailer section).
pub trait RequestBody: Read + Send {
    /// The trailers, once a read has returned 0 at the body's end; none before then, nor when
    /// the request had none.
    fn trailers(&mut self) -> Fields;
}

/// No body, and no trailers.
impl RequestBody for std::io::Empty {
    fn trailers(&mut self) -> Fields {
        Fields::new()
    }
}

/// Where a handler's response goes: its status and headers once, then its body, written as
/// the handler writes it, then its trailers, if it has any.
pub trait HttpResponse: Write + Send {
    fn head(&mut self, status: u16, headers: Fields);

    /// The trailer fields that follow the body; called at most once, after the body's last
    /// bytes.
    fn trailers(&mut self, trailers: Fields);
}

/// A module that answers HTTP requests itself (`wasi:http/incoming-handler` or
/// `wasi:http/handler`).
pub trait HttpHandler: Send + Sync {
    /// Instantiates the handler in a fresh sandbox described by `config`, hands it `request`
    /// with its `body` as it arrives, and sends what it answers to `response`. Its stdout and
    /// stderr are `stdio`'s; its stdin is empty. The run ends when the handler has returned
    /// and its response is complete.
    fn handle(
        &self,
        config: &ExecutionConfig,
        request: HttpRequest,
        body: Box<dyn RequestBody>,
        stdio: Stdio,
        response: Box<dyn HttpResponse>,
    ) -> RunReport;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_core_module_is_no_component() {
        let module = b"\0asm\x01\0\0\0";
        assert_eq!(classify(module), Ok(ProgramKind::CoreModule));
    }

    /// A component exporting an instance called `export`, with one function.
    fn component_exporting(export: &str) -> Vec<u8> {
        wat::parse_str(format!(
            r#"(component
                 (core module $m (func (export "f")))
                 (core instance $i (instantiate $m))
                 (func $f (canon lift (core func $i "f")))
                 (instance $exported (export "f" (func $f)))
                 (export "{export}" (instance $exported)))"#
        ))
        .unwrap()
    }

    #[test]
    fn handlers_and_commands_are_known_by_their_exports_of_any_wasi_0_2_release() {
        let handler = component_exporting("wasi:http/incoming-handler@0.2.4");
        assert_eq!(classify(&handler), Ok(ProgramKind::HttpHandler));
        let service = component_exporting("wasi:http/handler@0.3.0");
        assert_eq!(classify(&service), Ok(ProgramKind::HttpService));
        let command = component_exporting("wasi:cli/run@0.2.0");
        assert_eq!(classify(&command), Ok(ProgramKind::Command));
        let other = component_exporting("example:app/api");
        let error = classify(&other).unwrap_err();
        assert!(error.ends_with("it exports: example:app/api"), "{error}");
        assert!(ProgramKind::HttpHandler.is_component() && !ProgramKind::CoreModule.is_component());
    }

    #[test]
    fn a_component_is_known_by_what_it_exports() {
        // An empty component (version 0xd, layer 1) exports nothing.
        let empty = b"\0asm\x0d\0\x01\0";
        let error = classify(empty).unwrap_err();
        assert!(error.contains("exports none of"), "{error}");
        assert!(error.ends_with("it exports: nothing"), "{error}");
    }
}
