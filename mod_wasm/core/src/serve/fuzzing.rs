//! The checks the fuzz targets (`fuzz/`) run on a guest's output, kept here beside the code
//! they check so that they cannot drift from it; the unit tests below run them too.
//!
//! A guest writes its CGI header block in whatever pieces it likes. The streamed path parses it
//! as the pieces arrive ([`super::stream`]); what it makes of them must be what the parser
//! makes of the whole output at once, and neither may let a control character into a
//! response's head.

use super::stream::{Conduit, Output, Timing};
use super::ResponseHead;
use crate::settings::output::{Delivery, DeliveryMode};
use crate::settings::timing::ServerTiming;
use cgi::{Disposition, MalformedResponse};
use std::time::Instant;

/// What a guest's output became: a response (its head and body so far), a local redirect, or
/// an error; `None` while the header block has not ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Incomplete,
    Respond(ResponseHead, Vec<u8>),
    Redirect(String),
    Malformed(MalformedResponse),
}

/// What the streamed path makes of `output` written in pieces that end at `cuts`.
fn streamed(output: &[u8], cuts: &[usize]) -> Outcome {
    let delivery = Delivery {
        mode: DeliveryMode::Buffered,
        limit: None,
    };
    let timing = Timing {
        setting: ServerTiming::default(),
        runtime: "fuzzing",
        started: Instant::now(),
        took: None,
    };
    let shared = Conduit::<()>::shared(delivery, Output::Head(Vec::new()), timing);
    let mut conduit = runtime_api::sync::lock(&shared);
    let mut start = 0;
    for &cut in cuts.iter().chain([&output.len()]) {
        let end = cut.clamp(start, output.len());
        conduit.take(&output[start..end]);
        start = end;
    }
    match &conduit.output {
        Output::Head(_) | Output::AwaitingHead => Outcome::Incomplete,
        Output::Body { head, pending, .. } => Outcome::Respond(
            head.clone().expect("nothing is sent without a wire"),
            pending.clone(),
        ),
        Output::Redirect(path) => Outcome::Redirect(path.clone()),
        Output::Malformed(malformed) => Outcome::Malformed(malformed.clone()),
    }
}

/// What the parser makes of the whole `output`.
fn whole(output: &[u8]) -> Outcome {
    match cgi::parse_response(output) {
        Err(MalformedResponse::UnterminatedHeaders | MalformedResponse::Empty) => {
            Outcome::Incomplete
        }
        Err(malformed) => Outcome::Malformed(malformed),
        Ok(Disposition::LocalRedirect { path }) => Outcome::Redirect(path),
        Ok(Disposition::Respond(response)) => {
            let body = response.body.to_vec();
            Outcome::Respond(ResponseHead::from(response), body)
        }
    }
}

/// Whether `text` may go into a response's head: none of the bytes RFC 9110 does not allow in
/// a field, the C0 controls but tab, and DEL. Bytes from 0x80 up (`obs-text`) are allowed, so
/// a C1 control written as UTF-8 is too: no HTTP parser ends a line at it.
fn clean(text: &str) -> bool {
    !text.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

/// Checks what becomes of `output` written in pieces ending at `cuts` (in any order, any
/// value: they are sorted and clamped), and panics on the first thing wrong:
/// - the streamed path and the whole-output parser disagree;
/// - a status outside 200–599, or a control character (see [`clean`]) in a status's reason,
///   a header's name or value, or a redirect's path.
pub fn check_output(output: &[u8], cuts: &[usize]) {
    let mut cuts = cuts.to_vec();
    cuts.sort_unstable();
    let expected = whole(output);
    let got = streamed(output, &cuts);
    assert_eq!(got, expected, "streamed in pieces ending at {cuts:?}");
    match expected {
        Outcome::Respond(head, _) => {
            assert!((200..=599).contains(&head.status), "status {}", head.status);
            let texts = head
                .headers
                .iter()
                .flat_map(|(name, value)| [name, value])
                .chain(&head.reason)
                .chain(&head.content_type)
                .chain(&head.location);
            for text in texts {
                assert!(clean(text), "a control character in the head: {text:?}");
            }
            for (name, _) in &head.headers {
                assert!(!name.is_empty(), "a header without a name");
            }
        }
        Outcome::Redirect(path) => {
            assert!(
                path.starts_with('/') && clean(&path),
                "redirect to {path:?}"
            );
        }
        Outcome::Incomplete | Outcome::Malformed(_) => {}
    }
}

/// Reads a fuzzer's input as a guest's output and where its pieces end: the first byte says
/// how many cuts (up to 7) follow as 16-bit little-endian offsets; the rest is the output.
pub fn check_fuzz_input(data: &[u8]) {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(count % 8);
    if rest.len() < count * 2 {
        return;
    }
    let (cuts, output) = rest.split_at(count * 2);
    let cuts: Vec<usize> = cuts
        .chunks_exact(2)
        .map(|pair| usize::from(u16::from_le_bytes([pair[0], pair[1]])))
        .collect();
    check_output(output, &cuts);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_cut_anywhere_read_as_the_whole() {
        let outputs: [&[u8]; 9] = [
            b"Content-Type: text/plain\n\nhello",
            b"Status: 404 Not Found\r\nX-A: 1\r\n\r\nbody\n\nmore",
            b"Location: /elsewhere\n\nignored",
            b"Location: https://example.com/\n\n",
            b"X-Only: header\n\n",
            b"no header block at all",
            b"Content-Type: text/plain\nX-Bad: a\rb\n\n",
            b"Status: 99 Too Low\n\n",
            // Found by the fuzzer: a C1 control (U+009A, as UTF-8) is not a control byte.
            b"Lat: \xff\x86z\xc2\x9a\xca\xffi\"\n\n",
        ];
        for output in outputs {
            for cut in 0..=output.len() {
                check_output(output, &[cut]);
                check_output(output, &[cut, cut + 1, cut + 3]);
            }
        }
    }

    #[test]
    fn a_long_header_block_is_refused_in_pieces_as_whole() {
        let mut output = b"X-Long: ".to_vec();
        output.resize(cgi::response::MAX_HEADER_BLOCK + 10, b'a');
        output.extend_from_slice(b"\n\n");
        for cut in [0, 1000, cgi::response::MAX_HEADER_BLOCK, output.len() - 1] {
            check_output(&output, &[cut]);
        }
    }

    #[test]
    fn fuzz_inputs_are_read_whatever_their_length() {
        for data in [
            &b""[..],
            b"\x03",
            b"\x01\x05\x00Status: 200\n\n",
            b"\xffabc",
        ] {
            check_fuzz_input(data);
        }
    }
}
