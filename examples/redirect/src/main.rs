//! Sets Status and Location from the query string:
//!   ?to=/hello            local redirect (the server answers with /hello)
//!   ?to=http://host/path  client redirect (302)
//!   ?status=404           a response with that status
//!   ?bare-status=418      the same without a reason phrase, which the server then gives
fn main() {
    let query = std::env::var("QUERY_STRING").unwrap_or_default();
    let param = |key: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_owned())
    };
    if let Some(to) = param("to") {
        print!("Location: {to}\n\n");
    } else if let Some(status) = param("status") {
        print!("Status: {status} Chosen By Guest\nContent-Type: text/plain\n\nstatus {status}\n");
    } else if let Some(status) = param("bare-status") {
        print!("Status: {status}\nContent-Type: text/plain\n\nstatus {status}\n");
    } else {
        print!("Content-Type: text/plain\n\nuse ?to=/path, ?to=http://host/ or ?status=NNN\n");
    }
}
