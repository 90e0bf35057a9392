//! The `wasm-handler` content handler: one request, one fresh sandbox.
//!
//! The guest's stdout and stderr are buffered for the whole run, so that a trap or a non-zero
//! exit can still become a clean 500 instead of half a response.

use crate::apache::{self, guard, Level};
use crate::config::SectionConfig;
use crate::ffi;
use crate::modules::{self, ModuleKey, Provenance};
use crate::runtimes;
use cgi::{CgiRequest, CgiResponse, Disposition};
use runtime_api::stdio::{text_lines, OutputBuffer};
use runtime_api::{ExecutionConfig, LoadedModule, Runtime, Stdio};
use std::ffi::{c_int, CStr};
use std::path::Path;
use std::sync::Arc;

pub const HANDLER_NAME: &CStr = c"wasm-handler";

/// The most a guest may write to stderr per request; the rest is dropped (and said so).
const STDERR_LIMIT: usize = 64 * 1024;

/// The most a guest may write to stdout per request. Output is buffered until the guest exits,
/// so without a bound a runaway guest would exhaust the child's memory.
const STDOUT_LIMIT: usize = 256 * 1024 * 1024;

const OK: c_int = ffi::OK as c_int;
const DECLINED: c_int = ffi::DECLINED;
const NOT_FOUND: c_int = ffi::HTTP_NOT_FOUND as c_int;
const SERVER_ERROR: c_int = ffi::HTTP_INTERNAL_SERVER_ERROR as c_int;
const BAD_GATEWAY: c_int = ffi::HTTP_BAD_GATEWAY as c_int;

pub unsafe extern "C" fn handle(r: *mut ffi::request_rec) -> c_int {
    guard(SERVER_ERROR, || {
        let Some(request) = r.as_mut() else {
            return DECLINED;
        };
        if request.handler.is_null() || CStr::from_ptr(request.handler) != HANDLER_NAME {
            return DECLINED;
        }
        Request { r: request }.handle()
    })
}

struct Request<'r> {
    r: &'r mut ffi::request_rec,
}

/// What a failed request is about, for the error log: the URL, where the module was configured,
/// the module, the runtime.
struct Context<'a> {
    config: &'a SectionConfig,
    key: ModuleKey,
    runtime: &'a dyn Runtime,
}

impl std::fmt::Display for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.config.module {
            Some(module) => write!(f, "{}: {}", module.origin, self.key),
            None => write!(f, "{}", self.key),
        }
    }
}

impl Request<'_> {
    fn log(&self, level: Level, message: &str) {
        // SAFETY: self.r is the live request.
        unsafe { apache::log_request(self.r, level, message) }
    }

    fn pool_str(&self, s: &str) -> *const std::ffi::c_char {
        // SAFETY: the request pool lives as long as the request.
        unsafe { apache::pool_str(self.r.pool, s) }
    }

    fn handle(&mut self) -> c_int {
        match self.try_handle() {
            Ok(status) | Err(status) => status,
        }
    }

    /// The request's life: resolve the configuration, load the module, run it, send its output.
    /// `Err` carries the status of a request that ends early (already logged).
    fn try_handle(&mut self) -> Result<c_int, c_int> {
        // SAFETY: per_dir_config is the request's merged configuration vector.
        let Some(config) = (unsafe { apache::section_config(self.r.per_dir_config) }) else {
            self.log(Level::Error, "mod_wasm: no configuration for this request");
            return Err(SERVER_ERROR);
        };
        let (key, runtime) = self.module_and_runtime(config)?;
        let context = Context {
            config,
            key,
            runtime,
        };
        if self.is_interpreter_mode() && self.r.finfo.filetype != ffi::apr_filetype_e_APR_REG {
            // SAFETY: filename is NULL or a string in the request pool.
            let file = unsafe { apache::owned_text(self.r.filename) };
            self.log(
                Level::Info,
                &format!("mod_wasm: script not found or not a file: {file}"),
            );
            return Err(NOT_FOUND);
        }
        let module = self.load(&context)?;
        let output = self.run(&context, module.as_ref())?;
        if !config.cgi_enabled() {
            return Ok(self.write_body(&output));
        }
        match cgi::parse_response(&output) {
            Ok(Disposition::Respond(response)) => Ok(self.respond(response)),
            Ok(Disposition::LocalRedirect { path }) => Ok(self.redirect_internally(&path)),
            Err(e) => {
                self.log(
                    Level::Error,
                    &format!("mod_wasm: {context}: malformed CGI response: {e}"),
                );
                Err(BAD_GATEWAY)
            }
        }
    }

    /// The module and runtime that apply to this request.
    fn module_and_runtime(
        &self,
        config: &SectionConfig,
    ) -> Result<(ModuleKey, &'static dyn Runtime), c_int> {
        let Some(module) = &config.module else {
            self.log(
                Level::Error,
                "mod_wasm: wasm-handler is set here but no WasmModule applies",
            );
            return Err(SERVER_ERROR);
        };
        let registry = runtimes::global();
        match registry.get(config.runtime_name()) {
            Ok(runtime) => {
                // A combination the configuration check could not see (a <Location> over a
                // <Directory>) may grant what its runtime cannot honour.
                if let Err(e) = config.check_capabilities(runtime, registry) {
                    self.log(Level::Error, &format!("mod_wasm: {e}"));
                    return Err(SERVER_ERROR);
                }
                let key = ModuleKey {
                    runtime: runtime.name(),
                    path: module.value.clone(),
                };
                Ok((key, runtime))
            }
            Err(e) => {
                self.log(Level::Error, &format!("mod_wasm: {}: {e}", module.origin));
                Err(SERVER_ERROR)
            }
        }
    }

    fn load(&self, context: &Context) -> Result<Arc<dyn LoadedModule>, c_int> {
        let key = &context.key;
        match modules::loaded(key, context.runtime) {
            Ok(modules::Loaded {
                module,
                first_use,
                cache_problem,
            }) => {
                if let Some(problem) = cache_problem {
                    self.log(Level::Warning, &format!("mod_wasm: {context}: {problem}"));
                }
                match first_use {
                    Some(Provenance::Reused) => {
                        self.log(
                            Level::Info,
                            &format!("mod_wasm: loaded {key} into this process"),
                        );
                    }
                    Some(provenance @ (Provenance::Compiled | Provenance::Cached)) => {
                        let how = if provenance == Provenance::Cached {
                            "loaded the cached"
                        } else {
                            "compiled and loaded"
                        };
                        self.log(
                            Level::Info,
                            &format!(
                                "mod_wasm: {how} {key} into this process (the configuration check \
                             cannot foresee a module combined with a runtime from another section)"
                            ),
                        )
                    }
                    None => {}
                }
                Ok(module)
            }
            Err(e) => {
                self.log(
                    Level::Error,
                    &format!("mod_wasm: {context}: cannot load the module: {e}"),
                );
                Err(SERVER_ERROR)
            }
        }
    }

    /// Runs the module in a fresh sandbox and returns what it wrote to stdout, once it exited
    /// successfully.
    fn run(&mut self, context: &Context, module: &dyn LoadedModule) -> Result<Vec<u8>, c_int> {
        let config = context.config;
        let mut execution = config.execution_config();
        let mut stdin = Vec::new();
        if config.cgi_enabled() {
            stdin = self.read_body()?;
            let request = self.cgi_request(&execution, config.maps_cgi_filenames(), stdin.len());
            execution.env = with_overrides(request.meta_variables(), &execution.env);
        }
        let stdout = OutputBuffer::with_limit(STDOUT_LIMIT);
        let stderr = OutputBuffer::with_limit(STDERR_LIMIT);
        let stdio = Stdio {
            stdin: Box::new(std::io::Cursor::new(stdin)),
            stdout: Box::new(stdout.clone()),
            stderr: Box::new(stderr.clone()),
        };
        let outcome = module.run(&execution, stdio);

        for refusal in execution.outbound.refusals() {
            self.log(Level::Error, &format!("mod_wasm: {context}: {refusal}"));
        }
        self.report_stderr(context, &stderr);
        // A guest cut off by the limit usually fails afterwards; the limit is the cause to log.
        if stdout.truncated() {
            self.log(
                Level::Error,
                &format!(
                    "mod_wasm: {context}: the guest wrote more than {} MiB to stdout",
                    STDOUT_LIMIT >> 20
                ),
            );
            return Err(SERVER_ERROR);
        }
        match outcome {
            Ok(exit) if exit.is_success() => Ok(stdout.take()),
            Ok(exit) => {
                self.log(
                    Level::Error,
                    &format!("mod_wasm: {context}: the guest exited with code {}", exit.0),
                );
                Err(SERVER_ERROR)
            }
            Err(e) => {
                self.log(Level::Error, &format!("mod_wasm: {context}: {e}"));
                Err(SERVER_ERROR)
            }
        }
    }

    /// Each line the guest wrote to stderr becomes an error-log line.
    fn report_stderr(&self, context: &Context, stderr: &OutputBuffer) {
        for line in text_lines(&stderr.take()) {
            self.log(
                Level::Error,
                &format!("mod_wasm: {context}: stderr: {line}"),
            );
        }
        if stderr.truncated() {
            self.log(
                Level::Warning,
                &format!(
                "mod_wasm: {context}: stderr: more than {STDERR_LIMIT} bytes, the rest was dropped"
            ),
            );
        }
    }

    /// Whether the module runs as an interpreter for the requested file (`AddHandler
    /// wasm-handler .ext`) rather than answering everything in its section (`SetHandler`).
    fn is_interpreter_mode(&self) -> bool {
        // SAFETY: per_dir_config is the request's merged configuration vector.
        let core = unsafe { apache::core_dir_config(self.r.per_dir_config) };
        core.is_none_or(|core| core.expr_handler.is_null())
    }

    /// The whole request body (de-chunked), bounded by Apache's LimitRequestBody.
    fn read_body(&mut self) -> Result<Vec<u8>, c_int> {
        // SAFETY: the request is live; Apache's client-block API reads from its input filters.
        unsafe {
            let status = ffi::ap_setup_client_block(self.r, ffi::REQUEST_CHUNKED_DECHUNK as c_int);
            if status != OK {
                return Err(status);
            }
            let mut body = Vec::new();
            if ffi::ap_should_client_block(self.r) == 0 {
                return Ok(body);
            }
            let expected = usize::try_from(self.r.remaining).unwrap_or(0);
            body.reserve(expected.min(16 * 1024 * 1024));
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let n = ffi::ap_get_client_block(self.r, chunk.as_mut_ptr().cast(), chunk.len());
                match n {
                    0 => return Ok(body),
                    n if n > 0 => body.extend_from_slice(&chunk[..n as usize]),
                    // The input filters have already answered (e.g. 413 over LimitRequestBody).
                    _ => return Err(ffi::AP_FILTER_ERROR),
                }
            }
        }
    }

    /// Describes this request for the CGI layer.
    fn cgi_request(
        &mut self,
        execution: &ExecutionConfig,
        map_file_names: bool,
        body_len: usize,
    ) -> CgiRequest {
        let guest_view = |host: String| match map_file_names {
            true => execution.guest_path_of(Path::new(&host)).unwrap_or(host),
            false => host,
        };
        // SAFETY: every pointer read below belongs to the live request, its connection or its
        // server, and the functions called are Apache's request accessors.
        unsafe {
            let r: *mut ffi::request_rec = self.r;
            let request = &*r;
            let connection = &*request.connection;
            let server = &*request.server;
            let path_info = apache::owned_text(request.path_info);
            let path_translated = if path_info.is_empty() {
                None
            } else {
                self.translate(&path_info)
            };
            let the_request = apache::owned_text(request.the_request);
            CgiRequest {
                method: apache::owned_text(request.method),
                protocol: apache::owned_text(request.protocol),
                path: apache::owned_text(request.uri),
                // The URI of the original request line, also after internal redirects.
                request_uri: the_request
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned(),
                path_info,
                path_translated: path_translated.map(guest_view),
                query_string: apache::owned_text(request.args),
                script_filename: apache::text(request.filename).map(|f| guest_view(f.into_owned())),
                headers: apache::table_entries(request.headers_in),
                content_length: (body_len > 0 || request.remaining > 0).then_some(body_len as u64),
                server: cgi::Server {
                    software: apache::owned_text(ffi::ap_get_server_banner()),
                    name: apache::owned_text(ffi::ap_get_server_name_for_url(r)),
                    addr: apache::owned_text(connection.local_ip),
                    port: ffi::ap_get_server_port(r),
                    admin: apache::text(server.server_admin).map(|s| s.into_owned()),
                    scheme: apache::owned_text(ffi::ap_run_http_scheme(r)),
                    document_root: apache::owned_text(ffi::ap_document_root(r)),
                    context_prefix: apache::owned_text(ffi::ap_context_prefix(r)),
                    context_document_root: apache::owned_text(ffi::ap_context_document_root(r)),
                },
                client: cgi::Client {
                    addr: apache::owned_text(request.useragent_ip),
                    port: request.useragent_addr.as_ref().map_or(0, |a| a.port),
                    host: apache::text(ffi::ap_get_useragent_host(
                        r,
                        ffi::REMOTE_HOST as c_int,
                        std::ptr::null_mut(),
                    ))
                    .map(|h| h.into_owned()),
                    user: apache::text(request.user).map(|u| u.into_owned()),
                    auth_type: apache::text(request.ap_auth_type).map(|a| a.into_owned()),
                },
                extra: apache::table_entries(request.subprocess_env),
            }
        }
    }

    /// PATH_TRANSLATED: PATH_INFO mapped to a file by a sub-request, as Apache's CGI does.
    fn translate(&mut self, path_info: &str) -> Option<String> {
        // SAFETY: sub-requests are created and destroyed within this call, in the request pool.
        unsafe {
            let escaped = ffi::ap_os_escape_path(self.r.pool, self.pool_str(path_info), 1);
            let sub = ffi::ap_sub_req_lookup_uri(escaped, self.r, std::ptr::null_mut());
            let sub_ref = sub.as_ref()?;
            let translated = apache::text(sub_ref.filename)
                .map(|f| format!("{f}{}", apache::owned_text(sub_ref.path_info)));
            ffi::ap_destroy_sub_req(sub);
            translated
        }
    }

    fn write_body(&mut self, body: &[u8]) -> c_int {
        if body.is_empty() {
            return OK;
        }
        // SAFETY: writing to the live request's output filters.
        let written = unsafe { ffi::ap_rwrite(body.as_ptr().cast(), body.len() as c_int, self.r) };
        if written < 0 {
            self.log(
                Level::Info,
                "mod_wasm: the client went away before the response was sent",
            );
        }
        OK
    }

    fn respond(&mut self, response: CgiResponse) -> c_int {
        self.r.status = c_int::from(response.status);
        if let Some(reason) = &response.reason {
            self.r.status_line = self.pool_str(&format!("{} {reason}", response.status));
        }
        // SAFETY: the request and its header tables are live; strings are copied into its pool.
        unsafe {
            if let Some(content_type) = &response.content_type {
                ffi::ap_set_content_type(self.r, self.pool_str(content_type));
            }
            if let Some(location) = &response.location {
                apache::table_add(self.r.headers_out, "Location", location, true);
            }
            for (name, value) in &response.headers {
                if !apache::table_add(self.r.headers_out, name, value, false) {
                    self.log(
                        Level::Warning,
                        &format!("mod_wasm: dropped response header {name:?} containing NUL"),
                    );
                }
            }
        }
        self.write_body(response.body)
    }

    /// Answers the request as if the client had asked for `path` (RFC 3875 §6.2.2).
    fn redirect_internally(&mut self, path: &str) -> c_int {
        // SAFETY: the body has been read; Apache's internal redirect takes over the request.
        unsafe {
            self.r.method = c"GET".as_ptr();
            self.r.method_number = ffi::M_GET as c_int;
            ffi::apr_table_unset(self.r.headers_in, c"Content-Length".as_ptr());
            ffi::ap_internal_redirect_handler(self.pool_str(path), self.r);
        }
        OK
    }
}

/// The request's CGI variables with the location's `WasmEnv` values applied over them: the admin
/// has the last word over what the request sets.
fn with_overrides(
    mut vars: Vec<(String, String)>,
    overrides: &[(String, String)],
) -> Vec<(String, String)> {
    for (name, value) in overrides {
        match vars.iter_mut().find(|(n, _)| n == name) {
            Some(existing) => existing.1 = value.clone(),
            None => vars.push((name.clone(), value.clone())),
        }
    }
    vars
}
