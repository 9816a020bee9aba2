//! The tunnel between agents: how one node asks another to connect a stream to a
//! replica it runs. The stream itself is a TLS connection on the cluster port with
//! the ALPN protocol [`ALPN`], made with the node's cluster certificate, so only
//! members can open one and everything between nodes is encrypted.
//!
//! The opener sends one request line (JSON, at most [`MAX_LINE`] bytes, ended by `\n`);
//! the other side answers one status line, `ok` or `err REASON`, then both copy bytes.

use serde::{Deserialize, Serialize};

/// The ALPN protocol that selects the tunnel on the cluster port.
pub const ALPN: &[u8] = b"roost-tunnel/1";

/// Longest request or status line.
pub const MAX_LINE: usize = 1024;

/// Which replica to connect to, and on which port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub stack: String,
    pub service: String,
    /// The slot the opener chose; the other side may use another replica of the
    /// service it runs when that one is gone.
    pub slot: u32,
    pub port: u16,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LineError {
    #[error("the line is longer than {MAX_LINE} bytes")]
    TooLong,
    #[error("the line ended before its newline")]
    Unterminated,
    #[error("not a tunnel request: {0}")]
    Malformed(String),
    #[error("the other node refused: {0}")]
    Refused(String),
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("a request serializes");
        line.push(b'\n');
        line
    }

    /// Reads a request from a complete line (without its newline).
    ///
    /// # Errors
    /// [`LineError::Malformed`] for anything but a request.
    pub fn decode(line: &[u8]) -> Result<Request, LineError> {
        serde_json::from_slice(line).map_err(|e| LineError::Malformed(e.to_string()))
    }
}

/// The status line for a connect that worked, or failed with `reason`.
pub fn status(result: Result<(), &str>) -> Vec<u8> {
    match result {
        Ok(()) => b"ok\n".to_vec(),
        Err(reason) => format!("err {}\n", reason.replace(['\n', '\r'], " ")).into_bytes(),
    }
}

/// Reads a status line (without its newline).
///
/// # Errors
/// [`LineError::Refused`] with the other side's reason; [`LineError::Malformed`].
pub fn parse_status(line: &[u8]) -> Result<(), LineError> {
    let line = String::from_utf8_lossy(line);
    match line.as_ref() {
        "ok" => Ok(()),
        l => match l.strip_prefix("err ") {
            Some(reason) => Err(LineError::Refused(reason.to_owned())),
            None => Err(LineError::Malformed(l.chars().take(80).collect())),
        },
    }
}

/// Splits the first line off `buf` (bytes read so far): `Ok(Some((line, rest)))` once
/// a newline arrived, `Ok(None)` to read more.
///
/// # Errors
/// [`LineError::TooLong`] when no newline came within [`MAX_LINE`] bytes.
pub fn split_line(buf: &[u8]) -> Result<Option<(&[u8], &[u8])>, LineError> {
    match buf.iter().position(|b| *b == b'\n') {
        Some(i) if i <= MAX_LINE => Ok(Some((&buf[..i], &buf[i + 1..]))),
        Some(_) => Err(LineError::TooLong),
        None if buf.len() > MAX_LINE => Err(LineError::TooLong),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn requests_and_statuses_round_trip_and_bad_lines_are_named() {
        let r = Request {
            stack: "app".into(),
            service: "db".into(),
            slot: 1,
            port: 5432,
        };
        let bytes = r.encode();
        let (line, rest) = split_line(&bytes).unwrap().unwrap();
        assert!(rest.is_empty());
        assert_eq!(Request::decode(line).unwrap(), r);
        assert_eq!(parse_status(b"ok"), Ok(()));
        let refused = status(Err("no replica of app/db\nhere"));
        assert_eq!(
            parse_status(&refused[..refused.len() - 1]),
            Err(LineError::Refused("no replica of app/db here".into()))
        );
        assert!(matches!(
            Request::decode(b"GET / HTTP/1.1"),
            Err(LineError::Malformed(_))
        ));
        assert_eq!(split_line(&[b'x'; 2000]), Err(LineError::TooLong));
        assert_eq!(split_line(b"partial"), Ok(None));
    }

    proptest! {
        #[test]
        fn no_input_makes_the_line_readers_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
            if let Ok(Some((line, _))) = split_line(&bytes) {
                let _ = Request::decode(line);
                let _ = parse_status(line);
            }
        }
    }
}
