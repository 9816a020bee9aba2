//! Load balancing, passive ejection and retries, with backends that really die.

mod common;

use std::collections::HashMap;

use common::{backend, closed_port, get, host, request, route, send, start};
use roost_proxy::Config;

#[tokio::test]
async fn idle_requests_are_spread_round_robin() {
    let (a, b, c) = (backend("a").await, backend("b").await, backend("c").await);
    let p = start(
        Config::default(),
        vec![route("s/a/r", host("a.test"), &[a.addr, b.addr, c.addr])],
    )
    .await;
    let mut counts = HashMap::new();
    for _ in 0..30 {
        *counts
            .entry(get(p.addr, "a.test", "/").await.backend().to_owned())
            .or_insert(0) += 1;
    }
    assert_eq!(
        counts,
        HashMap::from([("a".into(), 10), ("b".into(), 10), ("c".into(), 10)])
    );
}

#[tokio::test]
async fn a_killed_backend_is_ejected_and_gets_keep_succeeding() {
    let (a, b) = (backend("a").await, backend("b").await);
    let p = start(
        Config::default(),
        vec![route("s/a/r", host("a.test"), &[a.addr, b.addr])],
    )
    .await;
    for _ in 0..4 {
        assert_eq!(get(p.addr, "a.test", "/").await.status, 200);
    }
    // Pooled connections to `a` are closed under the proxy, then nothing listens.
    drop(a);
    for i in 0..20 {
        let r = get(p.addr, "a.test", "/").await;
        assert_eq!(
            (r.status.as_u16(), r.backend()),
            (200, "b"),
            "request {i}: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn a_post_is_retried_after_a_failed_connect_but_not_after_it_was_sent() {
    let (a, b) = (backend("a").await, backend("b").await);
    let gone = closed_port().await;
    // The first request of a fresh proxy goes to the first backend.
    let p = start(
        Config::default(),
        vec![route("s/a/r", host("a.test"), &[gone, b.addr])],
    )
    .await;
    let r = send(
        p.addr,
        request("POST", "a.test", "/upload", common::full("hello")),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.body.as_str(), r.backend()),
        (200, "bytes=5\n", "b")
    );

    let p = start(
        Config::default(),
        vec![route("s/a/r", host("a.test"), &[a.addr, b.addr])],
    )
    .await;
    let r = send(
        p.addr,
        request("POST", "a.test", "/reset-a", common::full("hello")),
    )
    .await;
    assert_eq!(
        r.status, 502,
        "a POST the backend may have seen is not sent again"
    );
    let r = get(p.addr, "a.test", "/reset-a").await;
    assert_eq!((r.status.as_u16(), r.backend()), (200, "b"), "a GET is");
}

#[tokio::test]
async fn a_backend_answering_503_again_and_again_is_ejected() {
    let (a, b) = (backend("a").await, backend("b").await);
    let p = start(
        Config::default(),
        vec![route("s/a/r", host("a.test"), &[a.addr, b.addr])],
    )
    .await;
    let mut from_a = 0;
    for _ in 0..20 {
        let r = get(p.addr, "a.test", "/fail-a").await;
        if r.backend() == "a" {
            assert_eq!(r.status, 503, "the backend's own answer is passed on");
            from_a += 1;
        }
    }
    assert_eq!(from_a, 3, "ejected after three in a row");
}
