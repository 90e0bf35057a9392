//! Just enough of the MySQL client/server protocol (also MariaDB's) for the guestbook: the
//! 4.1 handshake with `mysql_native_password`, text queries, and text result sets.
//! <https://dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html>

use crate::sha1::sha1;
use std::fmt;
use std::io::{self, Read, Write};

const CLIENT_LONG_PASSWORD: u32 = 0x1;
const CLIENT_CONNECT_WITH_DB: u32 = 0x8;
const CLIENT_PROTOCOL_41: u32 = 0x200;
const CLIENT_TRANSACTIONS: u32 = 0x2000;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_PLUGIN_AUTH: u32 = 0x80000;
/// utf8mb4_general_ci.
const UTF8MB4: u8 = 45;
const NATIVE_PASSWORD: &str = "mysql_native_password";

/// What can go wrong talking to the server.
#[derive(Debug)]
pub enum Error {
    Io(io::Error),
    /// The server answered with an error packet.
    Server {
        code: u16,
        message: String,
    },
    /// The server said something this client does not understand.
    Protocol(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Server { code, message } => write!(f, "server error {code}: {message}"),
            Error::Protocol(what) => write!(f, "protocol error: {what}"),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

fn protocol<T>(what: &str) -> Result<T> {
    Err(Error::Protocol(what.to_owned()))
}

/// Who to log in as.
pub struct Credentials<'a> {
    pub user: &'a str,
    pub password: &'a str,
    pub database: &'a str,
}

/// An open session over any byte stream.
pub struct Connection<S: Read + Write> {
    stream: S,
    sequence: u8,
}

/// The rows of a result set, each column as text (`None` for SQL NULL).
pub type Rows = Vec<Vec<Option<String>>>;

impl<S: Read + Write> Connection<S> {
    /// Performs the handshake on a freshly connected stream.
    pub fn open(stream: S, credentials: &Credentials) -> Result<Self> {
        let mut connection = Self {
            stream,
            sequence: 0,
        };
        let greeting = connection.read_packet()?;
        let scramble = parse_greeting(&greeting)?;
        let mut response = Vec::new();
        let capabilities = CLIENT_LONG_PASSWORD
            | CLIENT_CONNECT_WITH_DB
            | CLIENT_PROTOCOL_41
            | CLIENT_TRANSACTIONS
            | CLIENT_SECURE_CONNECTION
            | CLIENT_PLUGIN_AUTH;
        response.extend_from_slice(&capabilities.to_le_bytes());
        response.extend_from_slice(&(16u32 << 20).to_le_bytes());
        response.push(UTF8MB4);
        response.extend_from_slice(&[0; 23]);
        push_nul_terminated(&mut response, credentials.user);
        let token = native_password(credentials.password, &scramble);
        response.push(token.len() as u8);
        response.extend_from_slice(&token);
        push_nul_terminated(&mut response, credentials.database);
        push_nul_terminated(&mut response, NATIVE_PASSWORD);
        connection.write_packet(&response)?;

        let reply = connection.read_packet()?;
        match reply.first() {
            Some(0x00) => Ok(connection),
            Some(0xff) => Err(server_error(&reply)),
            // An authentication switch: the server wants another plugin, with a new scramble.
            Some(0xfe) => {
                let rest = &reply[1..];
                let name_end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                if &rest[..name_end] != NATIVE_PASSWORD.as_bytes() {
                    return protocol("the server asks for an unsupported authentication plugin");
                }
                let scramble: Vec<u8> = rest[name_end + 1..]
                    .iter()
                    .copied()
                    .take_while(|&b| b != 0)
                    .collect();
                connection.write_packet(&native_password(credentials.password, &scramble))?;
                let reply = connection.read_packet()?;
                match reply.first() {
                    Some(0x00) => Ok(connection),
                    Some(0xff) => Err(server_error(&reply)),
                    _ => protocol("unexpected reply to authentication"),
                }
            }
            _ => protocol("unexpected reply to the handshake"),
        }
    }

    /// Runs a statement that returns no rows.
    pub fn execute(&mut self, sql: &str) -> Result<()> {
        let reply = self.command(sql)?;
        match reply.first() {
            Some(0x00) => Ok(()),
            Some(0xff) => Err(server_error(&reply)),
            _ => protocol("a statement returned rows"),
        }
    }

    /// Runs a query and returns its rows.
    pub fn query(&mut self, sql: &str) -> Result<Rows> {
        let reply = self.command(sql)?;
        match reply.first() {
            Some(0xff) => return Err(server_error(&reply)),
            Some(0x00) => return Ok(Vec::new()),
            _ => {}
        }
        let columns = Cursor(&reply).length()?.unwrap_or(0);
        for _ in 0..columns {
            self.read_packet()?; // column definitions: not needed here
        }
        let end = self.read_packet()?;
        if !is_eof(&end) {
            return protocol("no end of the column definitions");
        }
        let mut rows = Vec::new();
        loop {
            let packet = self.read_packet()?;
            if is_eof(&packet) {
                return Ok(rows);
            }
            if packet.first() == Some(&0xff) {
                return Err(server_error(&packet));
            }
            let mut cursor = Cursor(&packet);
            let row = (0..columns)
                .map(|_| cursor.text())
                .collect::<Result<Vec<_>>>()?;
            rows.push(row);
        }
    }

    /// Ends the session politely.
    pub fn quit(mut self) {
        self.sequence = 0;
        let _ = self.write_packet(&[0x01]);
    }

    /// Sends COM_QUERY and returns the first packet of the reply.
    fn command(&mut self, sql: &str) -> Result<Vec<u8>> {
        self.sequence = 0;
        let mut packet = vec![0x03];
        packet.extend_from_slice(sql.as_bytes());
        self.write_packet(&packet)?;
        self.read_packet()
    }

    fn read_packet(&mut self) -> Result<Vec<u8>> {
        let mut header = [0u8; 4];
        self.stream.read_exact(&mut header)?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
        self.sequence = header[3].wrapping_add(1);
        let mut payload = vec![0; len];
        self.stream.read_exact(&mut payload)?;
        Ok(payload)
    }

    fn write_packet(&mut self, payload: &[u8]) -> Result<()> {
        if payload.len() >= 0xff_ffff {
            return protocol("statement too long for one packet");
        }
        let mut packet = (payload.len() as u32).to_le_bytes();
        packet[3] = self.sequence;
        self.sequence = self.sequence.wrapping_add(1);
        self.stream.write_all(&packet)?;
        self.stream.write_all(payload)?;
        self.stream.flush()?;
        Ok(())
    }
}

/// The 20-byte scramble of a protocol-10 greeting.
fn parse_greeting(greeting: &[u8]) -> Result<Vec<u8>> {
    if greeting.first() != Some(&10) {
        return match greeting.first() {
            Some(0xff) => Err(server_error(greeting)),
            _ => protocol("not a MySQL protocol 10 server"),
        };
    }
    let version_end = greeting
        .iter()
        .skip(1)
        .position(|&b| b == 0)
        .map(|p| p + 1)
        .ok_or(Error::Protocol("truncated greeting".into()))?;
    // version, NUL, connection id (4), scramble part 1 (8), filler (1), capabilities (2),
    // charset (1), status (2), capabilities (2), scramble length (1), reserved (10), part 2.
    let part1 = version_end + 1 + 4;
    let part2 = part1 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10;
    if greeting.len() < part2 + 12 {
        return protocol("truncated greeting");
    }
    let mut scramble = greeting[part1..part1 + 8].to_vec();
    scramble.extend_from_slice(&greeting[part2..part2 + 12]);
    Ok(scramble)
}

/// `SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password)))`; empty for no password.
fn native_password(password: &str, scramble: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = sha1(password.as_bytes());
    let stage2 = sha1(&stage1);
    let mut salted = scramble.to_vec();
    salted.extend_from_slice(&stage2);
    let mask = sha1(&salted);
    stage1.iter().zip(mask).map(|(a, b)| a ^ b).collect()
}

fn push_nul_terminated(buffer: &mut Vec<u8>, text: &str) {
    buffer.extend_from_slice(text.as_bytes());
    buffer.push(0);
}

fn is_eof(packet: &[u8]) -> bool {
    packet.first() == Some(&0xfe) && packet.len() < 9
}

fn server_error(packet: &[u8]) -> Error {
    let code = match packet {
        [_, a, b, ..] => u16::from_le_bytes([*a, *b]),
        _ => 0,
    };
    // After the code: '#' and a five-character SQL state, then the message.
    let message = match packet.get(3) {
        Some(b'#') => packet.get(9..),
        _ => packet.get(3..),
    };
    Error::Server {
        code,
        message: String::from_utf8_lossy(message.unwrap_or_default()).into_owned(),
    }
}

/// Reads length-encoded values from a row packet.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if self.0.len() < n {
            return protocol("truncated row");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    /// A length-encoded integer; `None` is the NULL marker.
    fn length(&mut self) -> Result<Option<usize>> {
        let first = self.take(1)?[0];
        let width = match first {
            0xfb => return Ok(None),
            0xfc => 2,
            0xfd => 3,
            0xfe => 8,
            small => return Ok(Some(usize::from(small))),
        };
        let mut bytes = [0u8; 8];
        bytes[..width].copy_from_slice(self.take(width)?);
        usize::try_from(u64::from_le_bytes(bytes))
            .map(Some)
            .or_else(|_| protocol("length out of range"))
    }

    fn text(&mut self) -> Result<Option<String>> {
        match self.length()? {
            None => Ok(None),
            Some(n) => Ok(Some(String::from_utf8_lossy(self.take(n)?).into_owned())),
        }
    }
}

/// A string literal for SQL, quoted and escaped the way the server expects by default.
pub fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('\'');
    for c in text.chars() {
        match c {
            '\0' => quoted.push_str("\\0"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\x1a' => quoted.push_str("\\Z"),
            '\'' => quoted.push_str("\\'"),
            '\\' => quoted.push_str("\\\\"),
            other => quoted.push(other),
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted() {
        assert_eq!(quote("it's"), "'it\\'s'");
        assert_eq!(quote("a\\b\n"), "'a\\\\b\\n'");
    }

    #[test]
    fn lengths_are_decoded() {
        let mut cursor = Cursor(&[0x03, b'a', b'b', b'c', 0xfb, 0xfc, 0x01, 0x00, b'x']);
        assert_eq!(cursor.text().unwrap().as_deref(), Some("abc"));
        assert_eq!(cursor.text().unwrap(), None);
        assert_eq!(cursor.text().unwrap().as_deref(), Some("x"));
    }
}
