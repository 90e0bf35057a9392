//! Request → meta-variables (RFC 3875 §4.1), plus the variables Apache adds for its own CGI
//! programs, so a program that ran under mod_cgi sees the same environment under mod_wasm.

/// The server side of a request.
#[derive(Clone, Debug, Default)]
pub struct Server {
    /// `SERVER_SOFTWARE`, e.g. `Apache/2.4.62 (Debian)`.
    pub software: String,
    /// The host name the request was addressed to (`SERVER_NAME`).
    pub name: String,
    /// The local address that accepted the connection (`SERVER_ADDR`).
    pub addr: String,
    pub port: u16,
    /// `SERVER_ADMIN`, when configured.
    pub admin: Option<String>,
    /// `http` or `https` (`REQUEST_SCHEME`; `HTTPS=on` for the latter).
    pub scheme: String,
    /// `DOCUMENT_ROOT`.
    pub document_root: String,
    /// `CONTEXT_PREFIX` and `CONTEXT_DOCUMENT_ROOT`, set by Apache's Alias-like mappings.
    pub context_prefix: String,
    pub context_document_root: String,
}

/// The client side of a request.
#[derive(Clone, Debug, Default)]
pub struct Client {
    pub addr: String,
    pub port: u16,
    /// `REMOTE_HOST`, only when the server resolved it.
    pub host: Option<String>,
    /// `REMOTE_USER` and `AUTH_TYPE`, when the request was authenticated.
    pub user: Option<String>,
    pub auth_type: Option<String>,
}

/// What the CGI layer needs to know about one request.
#[derive(Clone, Debug, Default)]
pub struct CgiRequest {
    pub method: String,
    /// `SERVER_PROTOCOL`, e.g. `HTTP/1.1`.
    pub protocol: String,
    /// The decoded URL path (Apache's `r->uri`).
    pub path: String,
    /// The request target as sent, path and query (`REQUEST_URI`).
    pub request_uri: String,
    /// The part of `path` after the script (`PATH_INFO`); empty when there is none.
    pub path_info: String,
    /// `PATH_INFO` mapped to a file name by the server, when there is a `PATH_INFO`.
    pub path_translated: Option<String>,
    /// The query string without `?` (`QUERY_STRING`, always set, possibly empty).
    pub query_string: String,
    /// `SCRIPT_FILENAME`: the file the request maps to, as the guest should see it.
    pub script_filename: Option<String>,
    /// Request headers in arrival order.
    pub headers: Vec<(String, String)>,
    /// Length of the body the program will find on stdin; `None` when there is no body.
    pub content_length: Option<u64>,
    pub server: Server,
    pub client: Client,
    /// Variables the server adds (Apache's `SetEnv`, mod_rewrite's `E=`, mod_ssl, and after an
    /// internal redirect its `REDIRECT_*` ones). They never replace a variable RFC 3875
    /// defines; they do replace the conventions this layer adds beyond it (`HTTPS`,
    /// `REDIRECT_STATUS`, `HTTP_*`…), as the admin or the server means them to.
    pub extra: Vec<(String, String)>,
}

/// Request headers that never become `HTTP_*` variables.
///
/// `Content-Type` and `Content-Length` have their own variables; credentials are withheld like
/// Apache does unless told otherwise (RFC 3875 §4.1.18); `Proxy` would become `HTTP_PROXY`, which
/// many HTTP clients read as their proxy setting ("httpoxy").
const WITHHELD_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "authorization",
    "proxy-authorization",
    "proxy",
];

/// `SCRIPT_NAME`: the request path without its `PATH_INFO` suffix.
pub fn script_name<'a>(path: &'a str, path_info: &str) -> &'a str {
    match path.strip_suffix(path_info) {
        Some(script) if !path_info.is_empty() => script,
        _ => path,
    }
}

/// The `HTTP_*` name of a request header, or `None` for names Apache refuses to pass to CGI
/// programs (anything but letters, digits and `-`: `X_Forwarded_For` must not be able to
/// impersonate `X-Forwarded-For`).
pub fn header_variable_name(header: &str) -> Option<String> {
    if header.is_empty()
        || !header
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return None;
    }
    let mut name = String::with_capacity(5 + header.len());
    name.push_str("HTTP_");
    name.extend(header.chars().map(|c| match c {
        '-' => '_',
        c => c.to_ascii_uppercase(),
    }));
    Some(name)
}

/// An ordered set of variables in which the first value set for a name stays.
#[derive(Default)]
struct Variables(Vec<(String, String)>);

impl Variables {
    fn set(&mut self, name: &str, value: impl Into<String>) {
        if !self.0.iter().any(|(n, _)| n == name) {
            self.0.push((name.to_owned(), value.into()));
        }
    }

    fn set_opt(&mut self, name: &str, value: Option<impl Into<String>>) {
        if let Some(value) = value {
            self.set(name, value);
        }
    }
}

impl CgiRequest {
    /// The meta-variables of this request, in a stable order, names unique: those RFC 3875
    /// defines, which nothing replaces; then the server's own ([`extra`](Self::extra)); then
    /// what Apache gives its CGI programs beyond the RFC, where the server set no value.
    pub fn meta_variables(&self) -> Vec<(String, String)> {
        let mut vars = Variables::default();
        self.add_rfc3875_variables(&mut vars);
        for (name, value) in &self.extra {
            vars.set(name, value);
        }
        self.add_apache_variables(&mut vars);
        self.add_header_variables(&mut vars);
        vars.0
    }

    /// RFC 3875 §4.1's variables.
    fn add_rfc3875_variables(&self, vars: &mut Variables) {
        let server = &self.server;
        let client = &self.client;
        vars.set("GATEWAY_INTERFACE", "CGI/1.1");
        vars.set("SERVER_SOFTWARE", &server.software);
        vars.set("SERVER_NAME", &server.name);
        vars.set("SERVER_PORT", server.port.to_string());
        vars.set("SERVER_PROTOCOL", &self.protocol);
        vars.set("REQUEST_METHOD", &self.method);
        vars.set("SCRIPT_NAME", script_name(&self.path, &self.path_info));
        if !self.path_info.is_empty() {
            vars.set("PATH_INFO", &self.path_info);
            vars.set_opt("PATH_TRANSLATED", self.path_translated.as_ref());
        }
        vars.set("QUERY_STRING", &self.query_string);
        vars.set("REMOTE_ADDR", &client.addr);
        vars.set_opt("REMOTE_HOST", client.host.as_ref());
        vars.set_opt("REMOTE_USER", client.user.as_ref());
        vars.set_opt("AUTH_TYPE", client.auth_type.as_ref());
        let content_type = self
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .map(|(_, value)| value);
        vars.set_opt("CONTENT_TYPE", content_type);
        vars.set_opt("CONTENT_LENGTH", self.content_length.map(|n| n.to_string()));
    }

    /// What Apache adds for its CGI programs beyond RFC 3875.
    fn add_apache_variables(&self, vars: &mut Variables) {
        let server = &self.server;
        vars.set("SERVER_ADDR", &server.addr);
        vars.set_opt("SERVER_ADMIN", server.admin.as_ref());
        vars.set("REQUEST_SCHEME", &server.scheme);
        if server.scheme.eq_ignore_ascii_case("https") {
            vars.set("HTTPS", "on");
        }
        vars.set("DOCUMENT_ROOT", &server.document_root);
        vars.set("CONTEXT_PREFIX", &server.context_prefix);
        vars.set("CONTEXT_DOCUMENT_ROOT", &server.context_document_root);
        vars.set("REQUEST_URI", &self.request_uri);
        vars.set_opt("SCRIPT_FILENAME", self.script_filename.as_ref());
        // PHP's CGI SAPI refuses to run unless it believes the server sent it here
        // (cgi.force_redirect); Apache's own PHP-as-CGI setups provide this variable. After
        // an internal redirect (an ErrorDocument), the server's own value, the status that
        // was redirected, came with `extra` and stays.
        vars.set("REDIRECT_STATUS", "200");
        vars.set("REMOTE_PORT", self.client.port.to_string());
    }

    fn add_header_variables(&self, vars: &mut Variables) {
        // Repeated headers become one variable, values joined by ", " (RFC 3875 §4.1.18).
        let mut joined: Vec<(String, String)> = Vec::new();
        for (header, value) in &self.headers {
            if WITHHELD_HEADERS
                .iter()
                .any(|w| header.eq_ignore_ascii_case(w))
            {
                continue;
            }
            let Some(name) = header_variable_name(header) else {
                continue;
            };
            match joined.iter_mut().find(|(n, _)| *n == name) {
                Some((_, existing)) => {
                    existing.push_str(", ");
                    existing.push_str(value);
                }
                None => joined.push((name, value.clone())),
            }
        }
        for (name, value) in joined {
            vars.set(&name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> CgiRequest {
        CgiRequest {
            method: "POST".into(),
            protocol: "HTTP/1.1".into(),
            path: "/app/items/7".into(),
            request_uri: "/app/items/7?x=1&y=%20".into(),
            path_info: "/items/7".into(),
            path_translated: Some("/var/www/items/7".into()),
            query_string: "x=1&y=%20".into(),
            script_filename: Some("/var/www/app".into()),
            headers: vec![
                ("Host".into(), "example.test".into()),
                ("Content-Type".into(), "text/plain".into()),
                ("Content-Length".into(), "5".into()),
                ("X-Forwarded-For".into(), "10.0.0.1".into()),
                ("Accept".into(), "text/html".into()),
                ("accept".into(), "*/*".into()),
            ],
            content_length: Some(5),
            server: Server {
                software: "Apache/2.4".into(),
                name: "example.test".into(),
                addr: "127.0.0.1".into(),
                port: 8080,
                admin: Some("admin@example.test".into()),
                scheme: "http".into(),
                document_root: "/var/www".into(),
                context_prefix: "".into(),
                context_document_root: "/var/www".into(),
            },
            client: Client {
                addr: "127.0.0.2".into(),
                port: 50000,
                host: None,
                user: Some("alice".into()),
                auth_type: Some("Basic".into()),
            },
            extra: vec![
                ("APP_MODE".into(), "test".into()),
                ("SCRIPT_NAME".into(), "/spoofed".into()),
            ],
        }
    }

    fn get<'a>(vars: &'a [(String, String)], name: &str) -> Option<&'a str> {
        vars.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn rfc3875_variables_are_set() {
        let vars = request().meta_variables();
        for (name, value) in [
            ("GATEWAY_INTERFACE", "CGI/1.1"),
            ("SERVER_SOFTWARE", "Apache/2.4"),
            ("SERVER_NAME", "example.test"),
            ("SERVER_ADDR", "127.0.0.1"),
            ("SERVER_PORT", "8080"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("REQUEST_METHOD", "POST"),
            ("SCRIPT_NAME", "/app"),
            ("PATH_INFO", "/items/7"),
            ("PATH_TRANSLATED", "/var/www/items/7"),
            ("QUERY_STRING", "x=1&y=%20"),
            ("REMOTE_ADDR", "127.0.0.2"),
            ("REMOTE_PORT", "50000"),
            ("REMOTE_USER", "alice"),
            ("AUTH_TYPE", "Basic"),
            ("CONTENT_TYPE", "text/plain"),
            ("CONTENT_LENGTH", "5"),
        ] {
            assert_eq!(get(&vars, name), Some(value), "{name}");
        }
    }

    #[test]
    fn apache_additions_are_set() {
        let vars = request().meta_variables();
        for (name, value) in [
            ("REQUEST_URI", "/app/items/7?x=1&y=%20"),
            ("REQUEST_SCHEME", "http"),
            ("DOCUMENT_ROOT", "/var/www"),
            ("CONTEXT_DOCUMENT_ROOT", "/var/www"),
            ("SERVER_ADMIN", "admin@example.test"),
            ("SCRIPT_FILENAME", "/var/www/app"),
            ("REDIRECT_STATUS", "200"),
        ] {
            assert_eq!(get(&vars, name), Some(value), "{name}");
        }
        assert_eq!(get(&vars, "HTTPS"), None);
    }

    #[test]
    fn https_is_flagged() {
        let mut req = request();
        req.server.scheme = "https".into();
        assert_eq!(get(&req.meta_variables(), "HTTPS"), Some("on"));
    }

    #[test]
    fn headers_become_http_variables() {
        let vars = request().meta_variables();
        assert_eq!(get(&vars, "HTTP_HOST"), Some("example.test"));
        assert_eq!(get(&vars, "HTTP_X_FORWARDED_FOR"), Some("10.0.0.1"));
    }

    #[test]
    fn repeated_headers_are_joined() {
        let vars = request().meta_variables();
        assert_eq!(get(&vars, "HTTP_ACCEPT"), Some("text/html, */*"));
    }

    #[test]
    fn some_headers_are_withheld() {
        let mut req = request();
        req.headers.extend([
            ("Authorization".into(), "Basic secret".into()),
            ("Proxy".into(), "http://evil".into()),
            ("X_Forwarded_For".into(), "spoof".into()),
        ]);
        let vars = req.meta_variables();
        for name in [
            "HTTP_CONTENT_TYPE",
            "HTTP_CONTENT_LENGTH",
            "HTTP_AUTHORIZATION",
            "HTTP_PROXY",
        ] {
            assert_eq!(get(&vars, name), None, "{name}");
        }
        assert_eq!(get(&vars, "HTTP_X_FORWARDED_FOR"), Some("10.0.0.1"));
    }

    #[test]
    fn optional_variables_are_absent_when_unknown() {
        let mut req = request();
        req.path = "/app".into();
        req.path_info = String::new();
        req.content_length = None;
        req.client.user = None;
        req.client.auth_type = None;
        req.headers.clear();
        let vars = req.meta_variables();
        for name in [
            "PATH_INFO",
            "PATH_TRANSLATED",
            "CONTENT_LENGTH",
            "CONTENT_TYPE",
            "REMOTE_USER",
            "AUTH_TYPE",
            "REMOTE_HOST",
        ] {
            assert_eq!(get(&vars, name), None, "{name}");
        }
        assert_eq!(get(&vars, "SCRIPT_NAME"), Some("/app"));
    }

    #[test]
    fn the_servers_variables_replace_what_apache_adds_beyond_the_rfc() {
        let mut req = request();
        req.extra = vec![
            // After an internal redirect to an ErrorDocument: the status redirected.
            ("REDIRECT_STATUS".into(), "404".into()),
            // An admin behind a proxy that ends TLS.
            ("HTTPS".into(), "on".into()),
            ("REQUEST_SCHEME".into(), "https".into()),
            // Set by the admin, not by a header the client sends.
            ("HTTP_X_FORWARDED_FOR".into(), "192.0.2.1".into()),
        ];
        let vars = req.meta_variables();
        assert_eq!(get(&vars, "REDIRECT_STATUS"), Some("404"));
        assert_eq!(get(&vars, "HTTPS"), Some("on"));
        assert_eq!(get(&vars, "REQUEST_SCHEME"), Some("https"));
        assert_eq!(get(&vars, "HTTP_X_FORWARDED_FOR"), Some("192.0.2.1"));
        // Without them, Apache's conventions.
        let vars = request().meta_variables();
        assert_eq!(get(&vars, "REDIRECT_STATUS"), Some("200"));
        assert_eq!(get(&vars, "HTTP_X_FORWARDED_FOR"), Some("10.0.0.1"));
    }

    #[test]
    fn query_string_is_always_present() {
        let mut req = request();
        req.query_string = String::new();
        assert_eq!(get(&req.meta_variables(), "QUERY_STRING"), Some(""));
    }

    #[test]
    fn configured_variables_never_replace_rfc3875_ones() {
        let vars = request().meta_variables();
        assert_eq!(get(&vars, "APP_MODE"), Some("test"));
        assert_eq!(get(&vars, "SCRIPT_NAME"), Some("/app"));
        let names: Vec<_> = vars.iter().map(|(n, _)| n).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(names.len(), unique.len(), "names must be unique");
    }

    #[test]
    fn script_name_strips_path_info() {
        assert_eq!(script_name("/app/a/b", "/a/b"), "/app");
        assert_eq!(script_name("/app", ""), "/app");
        assert_eq!(script_name("/app", "/other"), "/app");
    }

    #[test]
    fn header_names_map_like_apache() {
        assert_eq!(
            header_variable_name("user-agent").as_deref(),
            Some("HTTP_USER_AGENT")
        );
        assert_eq!(header_variable_name("X_Under"), None);
        assert_eq!(header_variable_name("bad name"), None);
        assert_eq!(header_variable_name(""), None);
    }
}

/// Whatever the headers and the configured variables, the variables a request becomes have
/// unique names, and neither a header nor a configured variable replaces a computed one.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// Names from the ones that matter (computed variables, withheld and spoofing headers)
    /// and arbitrary text.
    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("SCRIPT_NAME".to_owned()),
            Just("REQUEST_METHOD".to_owned()),
            Just("HTTP_HOST".to_owned()),
            Just("Host".to_owned()),
            Just("Authorization".to_owned()),
            Just("Proxy".to_owned()),
            Just("Content-Length".to_owned()),
            Just("X_Forwarded_For".to_owned()),
            "[A-Za-z0-9_-]{1,12}",
            "\\PC{0,12}",
        ]
    }

    fn variables() -> impl Strategy<Value = Vec<(String, String)>> {
        vec((name(), "\\PC{0,12}"), 0..12)
    }

    proptest! {
        #[test]
        fn computed_variables_stay_and_names_are_unique(
            method in "[A-Z]{1,7}",
            path_info in prop_oneof![Just(String::new()), "/[a-z/]{0,10}"],
            headers in variables(),
            extra in variables(),
        ) {
            let request = CgiRequest {
                method: method.clone(),
                path: format!("/app{path_info}"),
                path_info,
                headers,
                extra,
                ..CgiRequest::default()
            };
            let vars = request.meta_variables();
            let get = |name: &str| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
            prop_assert_eq!(get("REQUEST_METHOD"), Some(method.as_str()));
            prop_assert_eq!(get("SCRIPT_NAME"), Some("/app"));
            prop_assert_eq!(get("GATEWAY_INTERFACE"), Some("CGI/1.1"));
            let mut names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
            names.sort_unstable();
            let count = names.len();
            names.dedup();
            prop_assert_eq!(names.len(), count, "names are unique");
            for (header, _) in &request.headers {
                let withheld = WITHHELD_HEADERS.iter().any(|w| header.eq_ignore_ascii_case(w));
                if let (true, Some(name)) = (withheld, header_variable_name(header)) {
                    let from_extra = request.extra.iter().any(|(n, _)| *n == name);
                    prop_assert!(from_extra || get(&name).is_none(), "{} was passed", header);
                }
            }
        }

        #[test]
        fn header_variables_are_upper_case_letters_digits_and_underscores(header in "\\PC{0,16}") {
            if let Some(name) = header_variable_name(&header) {
                let rest = name.strip_prefix("HTTP_").unwrap();
                prop_assert!(!rest.is_empty());
                prop_assert!(rest.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'));
            }
        }
    }
}
