#![allow(dead_code)] // each test binary uses part of it
//! A minimal HTTP/1.1 client for tests that go through roost's ingress: one request
//! per connection, so every request is routed afresh.

use std::io::{Read, Write};
use std::time::Duration;

/// `GET path` with `Host: host` at `addr`: `(status, body)`, or `None` if the
/// connection failed or timed out.
pub fn get(addr: &str, host: &str, path: &str, timeout: Duration) -> Option<(u16, String)> {
    request(addr, "GET", host, path, "", timeout)
}

/// `POST path` with `body`, as [`get`].
pub fn post(addr: &str, host: &str, path: &str, body: &str, timeout: Duration) -> Option<(u16, String)> {
    request(addr, "POST", host, path, body, timeout)
}

fn request(addr: &str, method: &str, host: &str, path: &str, body: &str, timeout: Duration) -> Option<(u16, String)> {
    let addr: std::net::SocketAddr = addr.parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    let length = body.len();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {length}\r\n\r\n{body}").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.trim().to_owned()).unwrap_or_default();
    Some((status, body))
}

/// Opens a WebSocket at `addr` for `host`/`path`, sends `text` in one masked frame and
/// returns the text of the first frame that comes back. A hand-written client (RFC
/// 6455's fixed sample key) keeps the test free of a WebSocket library.
pub fn websocket_echo(addr: &str, host: &str, path: &str, text: &str) -> Result<String, String> {
    let addr: std::net::SocketAddr = addr.parse().map_err(|e| format!("{e}"))?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).map_err(|e| format!("reading the handshake: {e}"))?;
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    if !head.starts_with("HTTP/1.1 101") || !head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") {
        return Err(format!("no WebSocket upgrade: {head}"));
    }
    let mask = [1u8, 2, 3, 4];
    assert!(text.len() < 126, "one short frame only");
    let mut frame = vec![0x81, 0x80 | text.len() as u8];
    frame.extend(mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    s.write_all(&frame).map_err(|e| e.to_string())?;
    let mut hdr = [0u8; 2];
    s.read_exact(&mut hdr).map_err(|e| format!("reading the echo: {e}"))?;
    if hdr[0] != 0x81 || hdr[1] >= 126 {
        return Err(format!("unexpected frame header {hdr:?}"));
    }
    let mut payload = vec![0u8; hdr[1] as usize];
    s.read_exact(&mut payload).map_err(|e| e.to_string())?;
    String::from_utf8(payload).map_err(|e| e.to_string())
}
