//! A minimal HTTP/1.1 client for tests that go through roost's ingress: one request
//! per connection, so every request is routed afresh.

use std::io::{Read, Write};
use std::time::Duration;

/// `GET path` with `Host: host` at `addr`: `(status, body)`, or `None` if the
/// connection failed or timed out.
pub fn get(addr: &str, host: &str, path: &str, timeout: Duration) -> Option<(u16, String)> {
    let addr: std::net::SocketAddr = addr.parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.trim().to_owned()).unwrap_or_default();
    Some((status, body))
}
