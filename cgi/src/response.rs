//! Program output → response (RFC 3875 §6): a header block, a blank line, then the body.
//!
//! Lines of the header block may end in `\n` or `\r\n`; the body is returned as the exact bytes
//! that follow the blank line.

/// The longest header block accepted; a program that writes more without a blank line is not
/// speaking CGI.
pub const MAX_HEADER_BLOCK: usize = 64 * 1024;

/// Headers the server owns: it frames the body itself, so a program's view of the framing
/// (possibly wrong) is dropped.
const SERVER_OWNED: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// Whether the server frames the body itself with the header `name`, so that a program's
/// value for it (possibly wrong) is dropped.
pub fn is_server_owned(name: &str) -> bool {
    SERVER_OWNED.iter().any(|s| name.eq_ignore_ascii_case(s))
}

/// What to do with a well-formed CGI response.
#[derive(Debug, PartialEq, Eq)]
pub enum Disposition<'a> {
    /// Send this response to the client.
    Respond(CgiResponse<'a>),
    /// `Location: /local/path` without a status: the server answers the request as if the
    /// client had asked for `path` (the program's body is discarded).
    LocalRedirect { path: String },
}

/// A response to send: status, the CGI fields, other headers, body.
#[derive(Debug, PartialEq, Eq)]
pub struct CgiResponse<'a> {
    pub status: u16,
    /// Whether the program chose the status (a `Status` field). Without one, the server's
    /// status stands: 200, or 302 with a `Location`, or the error an `ErrorDocument` answers.
    pub status_given: bool,
    /// The reason phrase from a `Status:` field, when the program gave one.
    pub reason: Option<String>,
    pub content_type: Option<String>,
    /// Set for client redirects (`Location:` with an absolute URL).
    pub location: Option<String>,
    /// Every other header, in order; repeated names (`Set-Cookie`) stay separate.
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

/// Why output is not a CGI response. The server answers 502 and logs this.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MalformedResponse {
    #[error("the program wrote nothing")]
    Empty,
    #[error("the header block does not end with a blank line")]
    UnterminatedHeaders,
    #[error("the header block is longer than {MAX_HEADER_BLOCK} bytes")]
    HeadersTooLong,
    #[error("the header block is empty (a CGI response needs at least a Content-Type, Location or Status field)")]
    NoFields,
    #[error("header line {line} is not 'Name: value': {text:?}")]
    BadHeaderLine { line: usize, text: String },
    /// A control character (a bare CR, NUL, ESC…) would reach the response's head, where a
    /// client or a proxy may read it as the end of a line.
    #[error("header line {line} has a control character: {text:?}")]
    ControlCharacter { line: usize, text: String },
    #[error("invalid Status field {0:?} (expected a final status from 200 to 599 and an optional reason)")]
    BadStatus(String),
}

/// Parses a program's complete output.
pub fn parse(output: &[u8]) -> Result<Disposition<'_>, MalformedResponse> {
    if output.is_empty() {
        return Err(MalformedResponse::Empty);
    }
    let (fields, body) = split_header_block(output)?;
    if fields.is_empty() {
        return Err(MalformedResponse::NoFields);
    }

    let mut status = None;
    let mut content_type = None;
    let mut location = None;
    let mut headers = Vec::new();
    for (name, value) in fields {
        if name.eq_ignore_ascii_case("status") {
            status = Some(parse_status(&value)?);
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value);
        } else if name.eq_ignore_ascii_case("location") {
            location = Some(value);
        } else if !is_server_owned(&name) {
            headers.push((name, value));
        }
    }

    let local_path = location
        .as_deref()
        .filter(|l| l.starts_with('/') && !l.starts_with("//"));
    if let (Some(path), None | Some((200, _))) = (local_path, &status) {
        return Ok(Disposition::LocalRedirect {
            path: path.to_owned(),
        });
    }
    let status_given = status.is_some();
    let (status, reason) = match (status, &location) {
        (Some(status), _) => status,
        (None, Some(_)) => (302, None),
        (None, None) => (200, None),
    };
    Ok(Disposition::Respond(CgiResponse {
        status,
        status_given,
        reason,
        content_type,
        location,
        headers,
        body,
    }))
}

impl Disposition<'_> {
    /// The output a CGI program writes for this disposition; [`parse`] reads it back as the
    /// same disposition. What it writes is canonical: `\n` line ends, a `Status` field
    /// whenever the disposition is a response, then `Content-Type`, `Location` and the other
    /// headers in order.
    pub fn to_output(&self) -> Vec<u8> {
        match self {
            Disposition::Respond(response) => response.to_output(),
            Disposition::LocalRedirect { path } => format!("Location: {path}\n\n").into_bytes(),
        }
    }
}

impl CgiResponse<'_> {
    /// The output a CGI program writes for this response (see [`Disposition::to_output`]). A
    /// status of 200 together with a local `Location` is read back as a local redirect.
    pub fn to_output(&self) -> Vec<u8> {
        let mut head = format!("Status: {}", self.status);
        if let Some(reason) = &self.reason {
            head.push(' ');
            head.push_str(reason);
        }
        head.push('\n');
        let fields = [
            ("Content-Type", &self.content_type),
            ("Location", &self.location),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                head.push_str(&format!("{name}: {value}\n"));
            }
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\n"));
        }
        head.push('\n');
        let mut output = head.into_bytes();
        output.extend_from_slice(self.body);
        output
    }
}

/// Splits output into header fields (continuation lines folded) and the body.
#[allow(clippy::type_complexity)]
fn split_header_block(output: &[u8]) -> Result<(Vec<(String, String)>, &[u8]), MalformedResponse> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut pos = 0;
    let mut line_no = 0;
    loop {
        let Some(len) = output[pos..].iter().position(|b| *b == b'\n') else {
            return Err(if output.len() > MAX_HEADER_BLOCK {
                MalformedResponse::HeadersTooLong
            } else {
                MalformedResponse::UnterminatedHeaders
            });
        };
        let raw = &output[pos..pos + len];
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        pos += len + 1;
        line_no += 1;
        if pos > MAX_HEADER_BLOCK {
            return Err(MalformedResponse::HeadersTooLong);
        }
        if line.is_empty() {
            return Ok((fields, &output[pos..]));
        }
        let text = String::from_utf8_lossy(line);
        if line.iter().copied().any(is_control) {
            return Err(MalformedResponse::ControlCharacter {
                line: line_no,
                text: text.into_owned(),
            });
        }
        let bad_line = || MalformedResponse::BadHeaderLine {
            line: line_no,
            text: text.clone().into_owned(),
        };
        if matches!(line[0], b' ' | b'\t') {
            // obs-fold: a continuation of the previous field's value.
            let (_, value) = fields.last_mut().ok_or_else(bad_line)?;
            value.push(' ');
            value.push_str(text.trim());
            continue;
        }
        let (name, value) = text.split_once(':').ok_or_else(bad_line)?;
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(bad_line());
        }
        fields.push((name.to_owned(), value.trim().to_owned()));
    }
}

/// A byte RFC 9110 does not allow in a field: the C0 controls but horizontal tab, and DEL.
fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn parse_status(value: &str) -> Result<(u16, Option<String>), MalformedResponse> {
    let bad = || MalformedResponse::BadStatus(value.to_owned());
    let (code, reason) = match value.split_once(' ') {
        Some((code, reason)) => (code, Some(reason.trim())),
        None => (value, None),
    };
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let code: u16 = code.parse().map_err(|_| bad())?;
    // A program's answer is final: an interim 1xx would leave the client waiting for
    // another response that never comes.
    if !(200..=599).contains(&code) {
        return Err(bad());
    }
    let reason = reason.filter(|r| !r.is_empty()).map(str::to_owned);
    Ok((code, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn respond(output: &[u8]) -> CgiResponse<'_> {
        match parse(output).unwrap() {
            Disposition::Respond(r) => r,
            other => panic!("expected a response, got {other:?}"),
        }
    }

    #[test]
    fn content_type_and_body() {
        let r = respond(b"Content-Type: text/html\n\n<p>hi</p>\n");
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type.as_deref(), Some("text/html"));
        assert_eq!(r.body, b"<p>hi</p>\n");
        assert!(r.headers.is_empty());
    }

    #[test]
    fn crlf_line_endings() {
        let r = respond(b"Content-Type: text/plain\r\nX-A: 1\r\n\r\nbody\r\n");
        assert_eq!(r.content_type.as_deref(), Some("text/plain"));
        assert_eq!(r.headers, vec![("X-A".to_owned(), "1".to_owned())]);
        assert_eq!(r.body, b"body\r\n");
    }

    #[test]
    fn mixed_line_endings() {
        let r = respond(b"Content-Type: text/plain\r\nX-A: 1\n\r\nbody");
        assert_eq!(r.body, b"body");
    }

    #[test]
    fn binary_body_is_untouched() {
        let mut output = b"Content-Type: application/octet-stream\n\n".to_vec();
        let body: Vec<u8> = (0..=255u8).chain([b'\n', b'\n', b'\r', 0]).collect();
        output.extend_from_slice(&body);
        assert_eq!(respond(&output).body, &body[..]);
    }

    #[test]
    fn empty_body() {
        assert_eq!(respond(b"Status: 204 No Content\n\n").body, b"");
    }

    #[test]
    fn whether_the_program_chose_the_status_is_known() {
        assert!(respond(b"Status: 200\n\n").status_given);
        assert!(!respond(b"Content-Type: text/plain\n\n").status_given);
        assert!(!respond(b"Location: http://example.test/\n\n").status_given);
    }

    #[test]
    fn status_with_and_without_reason() {
        let r = respond(b"Status: 404 Not Here\nContent-Type: text/plain\n\nx");
        assert_eq!((r.status, r.reason.as_deref()), (404, Some("Not Here")));
        let r = respond(b"Status: 201\n\n");
        assert_eq!((r.status, r.reason), (201, None));
    }

    #[test]
    fn invalid_status_is_malformed() {
        for status in [
            "abc",
            "20",
            "2000 x",
            "099",
            "100",
            "101 Switching",
            "199",
            "600",
            "",
        ] {
            let output = format!("Status: {status}\n\n");
            assert_eq!(
                parse(output.as_bytes()),
                Err(MalformedResponse::BadStatus(status.to_owned())),
                "{status:?}"
            );
        }
    }

    #[test]
    fn control_characters_in_a_field_are_malformed() {
        for output in [
            &b"Content-Type: text/plain\rSet-Cookie: injected=1\n\n"[..],
            b"Status: 200 OK\rX-Injected: 1\n\n",
            b"X-A: a\x00b\nContent-Type: text/plain\n\n",
            b"X-A: \x1b[31mred\nContent-Type: text/plain\n\n",
            b"X-A: del\x7f\nContent-Type: text/plain\n\n",
            b"Content-Type: text/plain\nX-A: a\n \x0bfolded\n\n",
        ] {
            assert!(
                matches!(
                    parse(output),
                    Err(MalformedResponse::ControlCharacter { .. })
                ),
                "{:?}: {:?}",
                String::from_utf8_lossy(output),
                parse(output)
            );
        }
        // A tab is allowed in a value, and a CR before the LF ends the line.
        let r = respond(b"X-A: a\tb\r\nContent-Type: text/plain\r\n\r\n");
        assert_eq!(r.headers, vec![("X-A".to_owned(), "a\tb".to_owned())]);
    }

    #[test]
    fn absolute_location_is_a_client_redirect() {
        let r = respond(b"Location: http://example.test/next\n\n");
        assert_eq!(r.status, 302);
        assert_eq!(r.location.as_deref(), Some("http://example.test/next"));
    }

    #[test]
    fn location_with_status_keeps_the_status() {
        let r = respond(b"Status: 301 Moved\nLocation: http://example.test/\n\n");
        assert_eq!(r.status, 301);
        assert_eq!(r.location.as_deref(), Some("http://example.test/"));
    }

    #[test]
    fn local_path_location_is_a_local_redirect() {
        assert_eq!(
            parse(b"Location: /other?x=1\n\nignored body"),
            Ok(Disposition::LocalRedirect {
                path: "/other?x=1".into()
            })
        );
        assert_eq!(
            parse(b"Status: 200\nLocation: /other\n\n"),
            Ok(Disposition::LocalRedirect {
                path: "/other".into()
            })
        );
    }

    #[test]
    fn local_path_with_a_redirect_status_goes_to_the_client() {
        let r = respond(b"Status: 303 See Other\nLocation: /other\n\n");
        assert_eq!(r.status, 303);
        assert_eq!(r.location.as_deref(), Some("/other"));
    }

    #[test]
    fn network_path_location_is_not_local() {
        let r = respond(b"Location: //elsewhere.test/x\n\n");
        assert_eq!(r.status, 302);
    }

    #[test]
    fn other_headers_keep_order_and_repeats() {
        let r = respond(b"Set-Cookie: a=1\nContent-Type: text/plain\nSet-Cookie: b=2\n\n");
        assert_eq!(
            r.headers,
            vec![
                ("Set-Cookie".to_owned(), "a=1".to_owned()),
                ("Set-Cookie".to_owned(), "b=2".to_owned())
            ]
        );
    }

    #[test]
    fn framing_headers_are_dropped() {
        let r = respond(b"Content-Type: text/plain\nContent-Length: 999\nTransfer-Encoding: chunked\nConnection: close\n\nx");
        assert!(r.headers.is_empty());
    }

    #[test]
    fn header_values_are_trimmed_and_may_be_empty() {
        let r = respond(b"Content-Type:text/plain  \nX-Empty:\n\n");
        assert_eq!(r.content_type.as_deref(), Some("text/plain"));
        assert_eq!(r.headers, vec![("X-Empty".to_owned(), String::new())]);
    }

    #[test]
    fn folded_lines_continue_the_previous_value() {
        let r = respond(b"X-Long: part one\n  part two\nContent-Type: text/plain\n\n");
        assert_eq!(
            r.headers,
            vec![("X-Long".to_owned(), "part one part two".to_owned())]
        );
    }

    #[test]
    fn field_names_are_case_insensitive() {
        let r = respond(b"content-TYPE: text/plain\nSTATUS: 418 Teapot\n\n");
        assert_eq!(r.status, 418);
        assert_eq!(r.content_type.as_deref(), Some("text/plain"));
    }

    #[test]
    fn missing_blank_line_is_malformed() {
        assert_eq!(
            parse(b"Content-Type: text/plain\nno blank line"),
            Err(MalformedResponse::UnterminatedHeaders)
        );
        assert_eq!(
            parse(b"Content-Type: text/plain"),
            Err(MalformedResponse::UnterminatedHeaders)
        );
    }

    #[test]
    fn plain_text_without_headers_is_malformed() {
        assert!(matches!(
            parse(b"hello world\n\n"),
            Err(MalformedResponse::BadHeaderLine { line: 1, .. })
        ));
    }

    #[test]
    fn nothing_is_malformed() {
        assert_eq!(parse(b""), Err(MalformedResponse::Empty));
        assert_eq!(parse(b"\n\nbody"), Err(MalformedResponse::NoFields));
    }

    #[test]
    fn bad_header_names_are_malformed() {
        for line in [
            &b": no name\n\n"[..],
            b"Bad Name: x\n\n",
            b" leading fold\n\n",
        ] {
            assert!(
                matches!(parse(line), Err(MalformedResponse::BadHeaderLine { .. })),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn oversized_header_block_is_malformed() {
        let mut output = b"Content-Type: text/plain\n".to_vec();
        output.extend(std::iter::repeat_n(b"X-Pad: 0123456789\n", 5000).flatten());
        output.extend_from_slice(b"\nbody");
        assert_eq!(parse(&output), Err(MalformedResponse::HeadersTooLong));
        let endless = vec![b'a'; MAX_HEADER_BLOCK + 10];
        assert_eq!(parse(&endless), Err(MalformedResponse::HeadersTooLong));
    }

    #[test]
    fn a_response_written_out_reads_back_the_same() {
        let response = CgiResponse {
            status: 404,
            status_given: true,
            reason: Some("Not Here".into()),
            content_type: Some("text/plain".into()),
            location: None,
            headers: vec![("Set-Cookie".into(), "a=1".into())],
            body: b"gone\n",
        };
        let output = response.to_output();
        assert_eq!(
            output,
            b"Status: 404 Not Here\nContent-Type: text/plain\nSet-Cookie: a=1\n\ngone\n"
        );
        assert_eq!(parse(&output), Ok(Disposition::Respond(response)));
    }
}

/// The parser reads untrusted output: whatever the bytes, a response or an error, never a
/// panic; and what [`Disposition::to_output`] writes, it reads back as the same disposition.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// Output that is almost a CGI response: lines drawn from fragments that matter to the
    /// parser (field names it knows, separators, folds, blank lines), then any bytes.
    fn near_cgi_output() -> impl Strategy<Value = Vec<u8>> {
        let fragment = prop_oneof![
            Just(b"Status: ".to_vec()),
            Just(b"Content-Type: text/html".to_vec()),
            Just(b"Location: ".to_vec()),
            Just(b"Location: /local".to_vec()),
            Just(b"X-Header: value".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b" folded".to_vec()),
            Just(b"\t".to_vec()),
            Just(b":".to_vec()),
            "[0-9]{1,4}( [ -~]{0,8})?".prop_map(String::into_bytes),
            vec(any::<u8>(), 0..16),
        ];
        vec(fragment, 0..24).prop_map(|parts| parts.concat())
    }

    fn check_any_output(output: &[u8]) {
        match parse(output) {
            Ok(Disposition::Respond(response)) => {
                assert!((100..=599).contains(&response.status));
                assert!(output.ends_with(response.body), "the body is what follows");
            }
            Ok(Disposition::LocalRedirect { path }) => assert!(path.starts_with('/')),
            Err(_) => {}
        }
    }

    /// A header value as it reads back: trimmed, on one line.
    fn field_value() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[!-~]([ -~]{0,30}[!-~])?"]
    }

    /// A header name the parser passes on (not one of the CGI fields or the framing headers).
    fn header_name() -> impl Strategy<Value = String> {
        "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}".prop_filter("a name the parser handles itself", |n| {
            !["status", "content-type", "location"]
                .iter()
                .chain(SERVER_OWNED)
                .any(|own| n.eq_ignore_ascii_case(own))
        })
    }

    prop_compose! {
        fn response_parts()(
            status in 200u16..=599,
            reason in proptest::option::of("[!-~]([ -~]{0,20}[!-~])?"),
            content_type in proptest::option::of("[a-z]{1,10}/[a-z0-9.+-]{1,10}"),
            location in proptest::option::of(prop_oneof![
                "https?://[a-z]{1,10}(\\.[a-z]{1,5})?/[a-z/]{0,10}",
                "/[a-z/?=]{0,12}",
                "//[a-z.]{1,12}",
            ]),
            headers in vec((header_name(), field_value()), 0..8),
            body in vec(any::<u8>(), 0..256),
        ) -> (u16, Option<String>, Option<String>, Option<String>, Vec<(String, String)>, Vec<u8>) {
            (status, reason, content_type, location, headers, body)
        }
    }

    proptest! {
        #[test]
        fn any_bytes_are_a_response_or_an_error(output in vec(any::<u8>(), 0..512)) {
            check_any_output(&output);
        }

        #[test]
        fn near_responses_are_a_response_or_an_error(output in near_cgi_output()) {
            check_any_output(&output);
        }

        #[test]
        fn responses_read_back_as_written(
            (status, reason, content_type, location, headers, body) in response_parts()
        ) {
            let local = location
                .as_deref()
                .is_some_and(|l| l.starts_with('/') && !l.starts_with("//"));
            // With status 200, a local Location is a local redirect (tested below).
            prop_assume!(!(local && status == 200));
            let written = Disposition::Respond(CgiResponse {
                status,
                // What is written out always has a Status field.
                status_given: true,
                reason,
                content_type,
                location,
                headers,
                body: &body,
            });
            let output = written.to_output();
            prop_assert_eq!(parse(&output), Ok(written));
        }

        #[test]
        fn local_redirects_read_back_as_written(path in "/[ -~]{0,30}[!-~]") {
            prop_assume!(!path.starts_with("//"));
            let written = Disposition::LocalRedirect { path };
            let output = written.to_output();
            prop_assert_eq!(parse(&output), Ok(written));
        }
    }
}
