//! The CLI's output to a reader that stops early (`roost config | head`).

use std::io::Read;
use std::process::{Command, Stdio};

#[test]
fn a_reader_that_stops_early_ends_the_command_quietly_not_with_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compose.yaml");
    // Far more output than a pipe holds (64 KiB), so writes fail once the reader left.
    let mut yaml = String::from("services:\n");
    for i in 0..2000 {
        yaml += &format!("  s{i}:\n    image: roost-test/busybox:latest\n    labels: {{note: \"{}\"}}\n", "x".repeat(100));
    }
    std::fs::write(&file, yaml).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_roost"))
        .args(["config", "-f", file.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The pipe's read end is dropped here: the reader has seen enough.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "as a C program killed by SIGPIPE; stderr: {stderr}");
}
