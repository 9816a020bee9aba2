//! The cluster port under a flood of idle connections.

use crate::harness::{serial, Agent};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Opens `n` TCP connections to `to` from `from` that never send a byte.
fn idle_connections(rt: &tokio::runtime::Runtime, from: &str, to: SocketAddr, n: usize) -> Vec<tokio::net::TcpStream> {
    rt.block_on(async {
        let mut held = Vec::with_capacity(n);
        for _ in 0..n {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
            // The kernel completes the handshake from its backlog even when the agent
            // closes the connection at once, so every connect succeeds.
            held.push(socket.connect(to).await.expect("connect to the cluster port"));
        }
        held
    })
}

/// Runs the CLI and returns how long it took; it must succeed.
fn timed(agent: &Agent, what: &str, run: impl FnOnce() -> std::process::Output) -> Duration {
    let start = Instant::now();
    let out = run();
    let took = start.elapsed();
    assert!(out.status.success(), "{what} failed: {}\n{}", String::from_utf8_lossy(&out.stderr), agent.log());
    took
}

#[test]
fn two_thousand_idle_connections_to_the_cluster_port_leave_the_cli_answering() {
    let _serial = serial();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    // systemd's default soft limit of 1024 open files: 2000 connections exceed it
    // unless the agent raises it and refuses what a stranger cannot need.
    let agent = Agent::start_as_a_service(&["--listen", &listen, "--advertise", &listen, "--http-listen", "127.0.0.1:18580", "--https-listen", "127.0.0.1:18543"]);
    let token = agent.roost(&["token", "--cli"]);
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let flood = idle_connections(&rt, "127.0.0.2", listen.parse().unwrap(), 2000);
    std::thread::sleep(Duration::from_millis(300));

    let local = timed(&agent, "roost ps on the local socket", || agent.roost(&["ps"]));
    let remote = timed(&agent, "roost ps over the cluster port", || {
        std::process::Command::new(env!("CARGO_BIN_EXE_roost"))
            .args(["--host", &format!("tcp://{listen}"), "--cli-token", &token, "ps"])
            .output()
            .unwrap()
    });
    assert!(local < Duration::from_secs(1), "the local CLI took {local:?} under the flood");
    assert!(remote < Duration::from_secs(1), "a remote CLI from another address took {remote:?} under the flood");
    drop(flood);
}
