//! The `wasm-handler` content handler: Apache's side of a request. The request is handed to
//! the core's pipeline as plain values ([`Exchange`]); the guest reads its body through
//! Apache's input filters and writes its response through the output filters ([`Wire`]) while
//! it runs.

use crate::apache::{self, guard};
use crate::{ffi, process};
use cgi::CgiRequest;
use mod_wasm_core::server::Counting;
use mod_wasm_core::{ClientGone, Exchange, HandlerMode, Level, Reply, ResponseHead, Wire};
use runtime_api::sync::lock;
use runtime_api::{Fields, HttpRequest, Limits};
use std::collections::HashMap;
use std::ffi::{c_int, CStr, CString};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const HANDLER_NAME: &CStr = c"wasm-handler";

const OK: c_int = ffi::OK as c_int;
const DECLINED: c_int = ffi::DECLINED;
const SERVER_ERROR: c_int = ffi::HTTP_INTERNAL_SERVER_ERROR as c_int;

/// # Safety
/// Called by Apache with a live request.
pub unsafe extern "C" fn handle(r: *mut ffi::request_rec) -> c_int {
    guard(SERVER_ERROR, || {
        // SAFETY: Apache passes the live request, which this call may use and change.
        let Some(r) = (unsafe { r.as_mut() }) else {
            return DECLINED;
        };
        // SAFETY: `handler` is NULL or a string in the request's pool.
        let handler = unsafe { r.handler.as_ref() }.map(|h| {
            // SAFETY: non-NULL, NUL-terminated.
            unsafe { CStr::from_ptr(h) }
        });
        if handler == Some(crate::status::HANDLER_NAME) {
            return crate::status::handle(r);
        }
        if handler != Some(HANDLER_NAME) {
            return DECLINED;
        }
        let mut request = Request {
            r,
            body_done: true,
            body: std::ptr::null_mut(),
            io_deadline: None,
        };
        // SAFETY: per_dir_config is the request's merged configuration vector, alive with it.
        let Some(config) = (unsafe { apache::section_config(request.r.per_dir_config) }) else {
            request.log(Level::Error, "mod_wasm: no configuration for this request");
            return SERVER_ERROR;
        };
        let mut gateway = process::gateway();
        // SAFETY: the request's server is its virtual host's live record.
        let counting = unsafe { apache::server_config(request.r.server) }
            .map_or(Counting::On, |server| server.statistics);
        if counting == Counting::Off {
            gateway.stats = None;
        }
        match gateway.serve(config, &mut request) {
            Reply::Sent { .. } => OK,
            Reply::LocalRedirect(path) => request.redirect_internally(&path),
            Reply::Status(status) => c_int::from(status),
            Reply::NotReady { retry_after } => {
                // SAFETY: the request's tables live as long as it does.
                unsafe {
                    apache::table_add(
                        request.r.err_headers_out,
                        "Retry-After",
                        &retry_after.to_string(),
                        true,
                    )
                };
                ffi::HTTP_SERVICE_UNAVAILABLE as c_int
            }
            Reply::Aborted(status) => status,
        }
    })
}

/// One request being handled.
struct Request<'r> {
    r: &'r mut ffi::request_rec,
    /// Whether the request body is read to its end (or there is none).
    body_done: bool,
    /// The brigade the body is read into, made by the first read.
    body: *mut ffi::apr_bucket_brigade,
    /// When reads and writes on the client's connection give up, besides the server's `Timeout`.
    io_deadline: Option<Instant>,
}

impl Request<'_> {
    /// Does `io` with the connection's socket timing out by the I/O deadline at the latest, as
    /// mod_reqtimeout bounds reads: the core filters wait on the socket for no longer than its
    /// timeout, and fail as at the server's `Timeout` (a read with 408, a write as a client gone).
    fn bounded<T>(&mut self, io: impl FnOnce(&mut Self) -> T) -> T {
        let Some(deadline) = self.io_deadline else {
            return io(self);
        };
        // SAFETY: the request's connection is live; its socket, if it has one (not under
        // HTTP/2's streams), lives as long as the connection.
        let socket = unsafe { ffi::ap_get_conn_socket(self.r.connection) };
        if socket.is_null() {
            return io(self);
        }
        let mut timeout: ffi::apr_interval_time_t = 0;
        // SAFETY: a live socket, and a place for its timeout.
        unsafe { ffi::apr_socket_timeout_get(socket, &mut timeout) };
        // In whole milliseconds, rounded up: APR waits with `poll`, which counts milliseconds
        // and would otherwise give up before the deadline, and the read would not count as
        // cut short by it. At least one: a timeout of 0 would make the socket non-blocking.
        let left = deadline.saturating_duration_since(Instant::now());
        let left = ffi::apr_interval_time_t::try_from(left.as_micros().div_ceil(1000) * 1000)
            .unwrap_or(ffi::apr_interval_time_t::MAX)
            .max(1000);
        // A negative timeout blocks without end.
        if timeout >= 0 && timeout <= left {
            return io(self);
        }
        // SAFETY: as above; the socket's own timeout is put back below.
        unsafe { ffi::apr_socket_timeout_set(socket, left) };
        let done = io(self);
        // SAFETY: as above.
        unsafe { ffi::apr_socket_timeout_set(socket, timeout) };
        done
    }
}

// SAFETY: a request is used by one thread at a time. The pipeline hands it to another thread
// only while the worker that handles it waits for the guest, under a lock, and takes it back
// before the handler returns; APR's pools and buckets need no more than that.
unsafe impl Send for Request<'_> {}

impl Wire for Request<'_> {
    /// What the handler returns: the status `ap_setup_client_block` chose, or
    /// `AP_FILTER_ERROR` once the input filters have answered (an over-limit body).
    type Abort = c_int;

    /// Reads through the input filters as mod_cgi does (`ap_get_brigade`, not the client-block
    /// API, which loses why a read failed): a failure the filters answered themselves (a body
    /// over `LimitRequestBody`, a malformed chunk) ends with `AP_FILTER_ERROR`, and one they
    /// did not (a trailer section over the server's limits, a client gone) with the status
    /// Apache maps it to, 400 unless said otherwise.
    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, c_int> {
        loop {
            if self.body_done || buf.is_empty() {
                return Ok(0);
            }
            // SAFETY: the request is live and set up for reading (`start_body`).
            let read = self.bounded(|request| unsafe { request.read_some(buf) });
            match read {
                Ok((n, at_end)) => {
                    self.body_done = at_end;
                    if n > 0 || at_end {
                        return Ok(n);
                    }
                }
                Err(status) => {
                    self.body_done = true;
                    // A read the run's deadline cut short: the client was too slow for the
                    // run, as for the server's `Timeout`; nothing has answered it yet.
                    if self
                        .io_deadline
                        .is_some_and(|deadline| Instant::now() >= deadline)
                    {
                        return Err(ffi::HTTP_REQUEST_TIME_OUT as c_int);
                    }
                    // SAFETY: maps a status code; touches nothing.
                    return Err(unsafe {
                        ffi::ap_map_http_request_error(status, ffi::HTTP_BAD_REQUEST as c_int)
                    });
                }
            }
        }
    }

    /// What Apache's HTTP input filter read after a chunked body's last chunk into
    /// `trailers_in` (kept apart from the headers: `MergeTrailers` is off by default), or what
    /// an HTTP/2 client sent after its body.
    fn read_trailers(&mut self) -> Fields {
        if !self.body_done {
            return Fields::new();
        }
        // SAFETY: the request's trailers_in is NULL or its live table.
        unsafe { apache::table_entries(self.r.trailers_in) }
    }

    fn send_head(&mut self, head: &ResponseHead) {
        // A guest that chose no status leaves the server's where it is an error: the request
        // is an ErrorDocument's, and answers that error, as under mod_cgi.
        let servers_error = self.r.status >= 400;
        if head.status_given || head.status != 200 || !servers_error {
            self.r.status = c_int::from(head.status);
            self.r.status_line = match &head.reason {
                Some(reason) => self.pool_str(&format!("{} {reason}", head.status)),
                // Without a line of its own, Apache would send "500 Internal Server Error" for
                // a status it has no name for (418, 599): a wasi:http response has no reason
                // phrase, nor has a CGI `Status: 418`. Apache names the ones it knows, and
                // calls the others "418 Status 418", as mod_proxy passes them on.
                // SAFETY: the request's pool is live; the line is allocated from it.
                None => unsafe { ffi::ap_get_status_line_ex(self.r.pool, self.r.status) },
            };
        }
        // SAFETY: the request and its header tables are live; strings are copied into its pool.
        unsafe {
            if let Some(content_type) = &head.content_type {
                ffi::ap_set_content_type(self.r, self.pool_str(content_type));
            }
            if let Some(location) = &head.location {
                apache::table_add(self.r.headers_out, "Location", location, true);
            }
            for (name, value) in &head.headers {
                if !apache::table_add(self.r.headers_out, name, value, false) {
                    self.log(
                        Level::Warning,
                        &format!("mod_wasm: dropped response header {name:?} containing NUL"),
                    );
                }
            }
        }
    }

    fn send_body(&mut self, bytes: &[u8]) -> Result<(), ClientGone> {
        let failed = self.bounded(|request| {
            bytes.chunks(c_int::MAX as usize).any(|piece| {
                // SAFETY: writing a valid buffer to the live request's output filters, in a
                // piece that ap_rwrite's int length can hold.
                let written = unsafe {
                    ffi::ap_rwrite(piece.as_ptr().cast(), piece.len() as c_int, request.r)
                };
                written < 0
            })
        });
        if failed {
            return Err(ClientGone);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ClientGone> {
        // SAFETY: the request is live; a flush bucket goes down its output filters.
        match self.bounded(|request| unsafe { ffi::ap_rflush(request.r) }) {
            0 => Ok(()),
            _ => Err(ClientGone),
        }
    }

    /// Into `trailers_out`, which the protocol's output filters send after the body: mod_http2
    /// as a trailing HEADERS frame. Apache 2.4's HTTP/1.1 chunked encoding has no trailer
    /// section, so over HTTP/1.1 they stay in the request, for logging (`%{name}^to`).
    fn send_trailers(&mut self, trailers: &Fields) {
        if self.r.trailers_out.is_null() {
            return;
        }
        for (name, value) in trailers {
            // SAFETY: the request's trailers_out is its live table; strings are copied.
            if !unsafe { apache::table_add(self.r.trailers_out, name, value, false) } {
                self.log(
                    Level::Warning,
                    &format!("mod_wasm: dropped response trailer {name:?} containing NUL"),
                );
            }
        }
    }

    /// As mod_proxy ends a response whose backend broke: an error bucket (which keeps the
    /// chunked encoding from ending properly and closes the connection) and the end of the
    /// stream.
    fn break_off(&mut self) {
        // SAFETY: the brigade and buckets are made in the request's pool and connection's
        // allocator, linked as APR_BRIGADE_INSERT_TAIL does, and passed down the live
        // request's output filters, which take them over.
        unsafe {
            let connection = &mut *self.r.connection;
            connection.keepalive = ffi::ap_conn_keepalive_e_AP_CONN_CLOSE;
            let brigade = ffi::apr_brigade_create(self.r.pool, connection.bucket_alloc);
            let error = ffi::ap_bucket_error_create(
                ffi::HTTP_BAD_GATEWAY as c_int,
                std::ptr::null(),
                self.r.pool,
                connection.bucket_alloc,
            );
            apache::brigade_append(brigade, error);
            apache::brigade_append(brigade, ffi::apr_bucket_eos_create(connection.bucket_alloc));
            ffi::ap_pass_brigade(self.r.output_filters, brigade);
        }
    }

    fn bound_io(&mut self, deadline: Option<Instant>) {
        self.io_deadline = deadline;
    }
}

impl Exchange for Request<'_> {
    /// Whether the module runs as an interpreter for the requested file (`AddHandler
    /// wasm-handler .ext`) rather than answering everything in its section (`SetHandler`):
    /// only `SetHandler` sets the core's handler expression.
    fn handler_mode(&self) -> HandlerMode {
        // SAFETY: per_dir_config is the request's merged configuration vector.
        let core = unsafe { apache::core_dir_config(self.r.per_dir_config) };
        if core.is_some_and(|core| !core.expr_handler.is_null()) {
            return HandlerMode::Section;
        }
        HandlerMode::Interpreter {
            // SAFETY: filename is NULL or a string in the request pool.
            filename: unsafe { apache::owned_text(self.r.filename) },
            is_file: self.r.finfo.filetype == ffi::apr_filetype_e_APR_REG,
        }
    }

    fn start_body(&mut self) -> Result<Option<u64>, c_int> {
        // SAFETY: the request is live; this sets it up for reading its body, de-chunked, and
        // refuses a Content-Length over LimitRequestBody.
        let status =
            unsafe { ffi::ap_setup_client_block(self.r, ffi::REQUEST_CHUNKED_DECHUNK as c_int) };
        if status != OK {
            return Err(status);
        }
        // SAFETY: as above; this only looks at the request (the input filters send a 100
        // Continue when the guest first reads).
        self.body_done = unsafe { ffi::ap_should_client_block(self.r) } == 0;
        let announced = u64::try_from(self.r.remaining).unwrap_or(0);
        Ok((self.r.read_chunked == 0 && announced > 0).then_some(announced))
    }

    fn path(&self) -> String {
        // SAFETY: uri is NULL or a string in the request pool.
        unsafe { apache::owned_text(self.r.uri) }
    }

    /// The `Timeout` of the virtual host that serves the request.
    fn server_timeout(&self) -> Duration {
        // SAFETY: a live request's server is its virtual host's record, alive with the server.
        let timeout = unsafe { self.r.server.as_ref() }.map_or(0, |server| server.timeout);
        match u64::try_from(timeout) {
            // apr_interval_time_t counts microseconds.
            Ok(micros) if micros > 0 => Duration::from_micros(micros),
            _ => Limits::DEFAULT.timeout,
        }
    }

    fn pattern_end(&mut self, pattern: &str, subject: &str) -> Option<usize> {
        let regex = compiled(pattern)?;
        let subject = CString::new(subject).ok()?;
        let mut found = ffi::ap_regmatch_t {
            rm_so: -1,
            rm_eo: -1,
        };
        // SAFETY: a compiled expression, a NUL-terminated subject, and room for one match.
        let status = unsafe { ffi::ap_regexec(regex.0, subject.as_ptr(), 1, &mut found, 0) };
        (status == 0)
            .then(|| usize::try_from(found.rm_eo).ok())
            .flatten()
    }

    fn cgi_request(&mut self, content_length: Option<u64>, path_info: Option<&str>) -> CgiRequest {
        // SAFETY: every pointer read below belongs to the live request, its connection or its
        // server, and the functions called are Apache's request accessors.
        unsafe {
            let r: *mut ffi::request_rec = self.r;
            let request = &*r;
            let connection = &*request.connection;
            let server = &*request.server;
            let path_info = match path_info {
                Some(path_info) => path_info.to_owned(),
                None => apache::owned_text(request.path_info),
            };
            let path_translated = if path_info.is_empty() {
                None
            } else {
                self.translate(&path_info)
            };
            CgiRequest {
                method: apache::owned_text(request.method),
                protocol: apache::owned_text(request.protocol),
                path: apache::owned_text(request.uri),
                request_uri: request_uri(request),
                path_info,
                path_translated,
                query_string: apache::owned_text(request.args),
                script_filename: apache::text(request.filename).map(|f| f.into_owned()),
                headers: apache::table_entries(request.headers_in),
                content_length,
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
                extra: server_variables(request),
            }
        }
    }

    fn http_request(&mut self) -> HttpRequest {
        // SAFETY: the strings and tables read belong to the live request; the functions called
        // are Apache's request accessors.
        unsafe {
            let r: *mut ffi::request_rec = self.r;
            let headers = apache::table_entries(self.r.headers_in);
            let authority = match headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("host"))
            {
                Some((_, host)) => host.clone(),
                None => format!(
                    "{}:{}",
                    apache::owned_text(ffi::ap_get_server_name_for_url(r)),
                    ffi::ap_get_server_port(r)
                ),
            };
            HttpRequest {
                method: apache::owned_text(self.r.method),
                scheme: apache::owned_text(ffi::ap_run_http_scheme(r)),
                authority,
                path_with_query: request_uri(self.r),
                headers,
            }
        }
    }

    fn log(&mut self, level: Level, message: &str) {
        // SAFETY: self.r is the live request.
        unsafe { apache::log_request(self.r, level, message) }
    }

    fn note(&mut self, name: &'static str, value: &str) {
        // SAFETY: the request's notes table is live; both strings are copied into its pool.
        unsafe { apache::table_add(self.r.notes, name, value, true) };
    }
}

/// The URI of the request line as the client sent it, also after internal redirects.
///
/// # Safety
/// `request` is a live request.
unsafe fn request_uri(request: &ffi::request_rec) -> String {
    // SAFETY: the_request is NULL or a string in the request pool.
    let line = unsafe { apache::text(request.the_request) }.unwrap_or_default();
    line.split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

/// The variables the server set for the request (`SetEnv`, mod_rewrite, mod_ssl, and the
/// `REDIRECT_*` ones of an internal redirect), with those Apache's own CGI adds after an
/// internal redirect (an `ErrorDocument`): the URL and query string redirected.
///
/// # Safety
/// `request` is a live request, and its `prev` is NULL or the live request it was redirected
/// from.
unsafe fn server_variables(request: &ffi::request_rec) -> Vec<(String, String)> {
    // SAFETY: the request's tables are live.
    let mut variables = unsafe { apache::table_entries(request.subprocess_env) };
    // SAFETY: `prev` is NULL or live, as promised.
    if let Some(prev) = unsafe { request.prev.as_ref() } {
        // SAFETY: a live request's uri and args are NULL or strings in its pool.
        let redirected = unsafe {
            [
                ("REDIRECT_URL", apache::text(prev.uri)),
                ("REDIRECT_QUERY_STRING", apache::text(prev.args)),
            ]
        };
        for (name, value) in redirected {
            if let Some(value) = value {
                if !variables.iter().any(|(n, _)| n == name) {
                    variables.push((name.to_owned(), value.into_owned()));
                }
            }
        }
    }
    variables
}

/// A regular expression compiled by Apache's engine, as `<LocationMatch>` compiles it.
struct Regex(*const ffi::ap_regex_t);

// SAFETY: a compiled expression is never changed, and Apache's matcher takes it as const from
// any thread (each match uses its own match data).
unsafe impl Send for Regex {}
// SAFETY: as above.
unsafe impl Sync for Regex {}

/// `pattern` compiled, once per process: the patterns are those of the configuration's
/// `<LocationMatch>` sections, so there are few, and they are kept for the life of the process.
/// `None` when Apache's engine refuses it (which Apache would have refused first).
fn compiled(pattern: &str) -> Option<&'static Regex> {
    static COMPILED: OnceLock<Mutex<HashMap<String, Option<&'static Regex>>>> = OnceLock::new();
    let mut compiled = lock(COMPILED.get_or_init(Default::default));
    *compiled.entry(pattern.to_owned()).or_insert_with(|| {
        let source = CString::new(pattern).ok()?;
        let regex = Box::leak(Box::new(ffi::ap_regex_t {
            re_pcre: std::ptr::null_mut(),
            re_nsub: 0,
            re_erroffset: 0,
        }));
        // SAFETY: compiles into the leaked, zeroed expression, with the flags <LocationMatch>
        // uses (Apache adds its default flags to them).
        let status =
            unsafe { ffi::ap_regcomp(regex, source.as_ptr(), ffi::AP_REG_EXTENDED as c_int) };
        (status == 0).then(|| &*Box::leak(Box::new(Regex(regex))))
    })
}

impl Request<'_> {
    /// Reads at most `buf.len()` bytes of the body from the input filters into `buf`: how many,
    /// and whether the body ended with them; or the filters' failure.
    ///
    /// # Safety
    /// The request is set up for reading its body.
    unsafe fn read_some(&mut self, buf: &mut [u8]) -> Result<(usize, bool), ffi::apr_status_t> {
        // SAFETY: the brigade is made once in the request's pool, filled by its input filters,
        // and emptied before returning; flattening copies at most `buf.len()` bytes into `buf`.
        unsafe {
            if self.body.is_null() {
                let connection = &*self.r.connection;
                self.body = ffi::apr_brigade_create(self.r.pool, connection.bucket_alloc);
            }
            let brigade = self.body;
            let status = ffi::ap_get_brigade(
                self.r.input_filters,
                brigade,
                ffi::ap_input_mode_t_AP_MODE_READBYTES,
                ffi::apr_read_type_e_APR_BLOCK_READ,
                ffi::apr_off_t::try_from(buf.len()).unwrap_or(ffi::apr_off_t::MAX),
            );
            if status != ffi::APR_SUCCESS as ffi::apr_status_t {
                ffi::apr_brigade_cleanup(brigade.cast());
                return Err(status);
            }
            let at_end = apache::brigade_has_eos(brigade);
            let mut len: ffi::apr_size_t = buf.len();
            let status = ffi::apr_brigade_flatten(brigade, buf.as_mut_ptr().cast(), &mut len);
            ffi::apr_brigade_cleanup(brigade.cast());
            if status != ffi::APR_SUCCESS as ffi::apr_status_t {
                return Err(status);
            }
            self.r.read_length += ffi::apr_off_t::try_from(len).unwrap_or(0);
            Ok((len, at_end))
        }
    }

    fn pool_str(&self, s: &str) -> *const std::ffi::c_char {
        // SAFETY: the request pool lives as long as the request.
        unsafe { apache::pool_str(self.r.pool, s) }
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

    /// Answers the request as if the client had asked for `path` (RFC 3875 §6.2.2), as a
    /// GET without a body. The pipeline has read the body to its end; were any of it left, the
    /// connection is closed after the response rather than read on, so that no byte of this
    /// body is ever taken for the client's next request.
    fn redirect_internally(&mut self, path: &str) -> c_int {
        // SAFETY: the request and its connection are live; Apache's internal redirect takes
        // over the request.
        unsafe {
            if !self.body_done {
                (*self.r.connection).keepalive = ffi::ap_conn_keepalive_e_AP_CONN_CLOSE;
            }
            self.r.method = c"GET".as_ptr();
            self.r.method_number = ffi::M_GET as c_int;
            ffi::apr_table_unset(self.r.headers_in, c"Content-Length".as_ptr());
            ffi::apr_table_unset(self.r.headers_in, c"Transfer-Encoding".as_ptr());
            ffi::ap_internal_redirect_handler(self.pool_str(path), self.r);
        }
        OK
    }
}
