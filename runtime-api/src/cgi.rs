//! CGI/1.1 (RFC 3875), written once for every runtime: the meta-variables a request becomes
//! ([`request`]) and the response a program's output becomes ([`response`]).

pub mod request;
pub mod response;

pub use request::{CgiRequest, Client, Server};
pub use response::{parse as parse_response, CgiResponse, Disposition, MalformedResponse};
