//! Shows what a CGI program sees: its arguments, its environment (the CGI meta-variables among
//! it) and the size of its standard input.
use std::io::Read;

fn main() {
    let mut stdin = Vec::new();
    let stdin_len = std::io::stdin()
        .read_to_end(&mut stdin)
        .map(|_| stdin.len());

    let mut out = String::from("Content-Type: text/plain; charset=utf-8\n\n");
    for (i, arg) in std::env::args().enumerate() {
        out.push_str(&format!("argv[{i}]={arg}\n"));
    }
    let mut vars: Vec<_> = std::env::vars().collect();
    vars.sort();
    for (name, value) in vars {
        out.push_str(&format!("{name}={value}\n"));
    }
    match stdin_len {
        Ok(n) => out.push_str(&format!("stdin: {n} bytes\n")),
        Err(e) => out.push_str(&format!("stdin: {e}\n")),
    }
    print!("{out}");
}
