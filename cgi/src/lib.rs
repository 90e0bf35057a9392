//! CGI/1.1 (RFC 3875), written once for every runtime: the meta-variables a request becomes
//! ([`request`]) and the response a program's output becomes ([`response`]).
//!
//! Pure functions over plain values: no Apache, no WebAssembly. The response parser reads what
//! untrusted guests wrote, so it answers every input with a response or an error, never a panic.

pub mod request;
pub mod response;

pub use request::{CgiRequest, Client, Server};
pub use response::{parse as parse_response, CgiResponse, Disposition, MalformedResponse};
