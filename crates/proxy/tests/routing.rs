//! Routing, headers, the proxy's own answers and live table swaps, over real TCP.

mod common;

use std::time::Duration;

use common::{backend, closed_port, get, host, request, route, send, start, stream_of};
use roost_proxy::{Backend, Config, Table};
use roost_routes::Rule;

fn and(a: Rule, b: Rule) -> Rule {
    Rule::And(Box::new(a), Box::new(b))
}

#[tokio::test]
async fn host_and_path_rules_pick_the_backend_by_priority() {
    let (a, api, b) = (backend("a").await, backend("api").await, backend("b").await);
    let routes = vec![
        route("s/a/r", host("a.test"), &[a.addr]),
        route(
            "s/api/r",
            and(host("a.test"), Rule::PathPrefix(vec!["/api".into()])),
            &[api.addr],
        ),
        route("s/b/r", host("b.test"), &[b.addr]),
    ];
    let p = start(Config::default(), routes).await;
    assert_eq!(get(p.addr, "a.test", "/").await.backend(), "a");
    assert_eq!(get(p.addr, "A.TEST:8080", "/apix").await.backend(), "api");
    assert_eq!(
        get(p.addr, "a.test", "/api/v1?x=1").await.seen("path"),
        Some("/api/v1")
    );
    assert_eq!(get(p.addr, "b.test", "/api").await.backend(), "b");
    assert_eq!(get(p.addr, "c.test", "/").await.status, 404);
}

#[tokio::test]
async fn the_backend_sees_the_original_host_and_forwarded_headers_but_no_hop_by_hop_ones() {
    let a = backend("a").await;
    let p = start(
        Config::default(),
        vec![route("s/a/r", host("a.test"), &[a.addr])],
    )
    .await;
    let mut req = request("GET", "a.test", "/", common::full(""));
    let h = req.headers_mut();
    h.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
    h.insert("x-forwarded-proto", "https".parse().unwrap());
    h.insert("connection", "x-private".parse().unwrap());
    h.insert("x-private", "1".parse().unwrap());
    let r = send(p.addr, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.seen("h:host"), Some("a.test"));
    assert_eq!(r.seen("h:x-forwarded-for"), Some("203.0.113.9, 127.0.0.1"));
    assert_eq!(r.seen("h:x-forwarded-proto"), Some("http"));
    assert_eq!(r.seen("h:x-forwarded-host"), Some("a.test"));
    assert_eq!(r.seen("h:x-real-ip"), Some("127.0.0.1"));
    assert_eq!(r.seen("h:x-private"), None);
    assert_eq!(r.seen("version"), Some("HTTP/1.1"));
}

#[tokio::test]
async fn errors_are_small_pages_404_503_502_504() {
    let slow = backend("slow").await;
    let mut down = route("s/down/r", host("down.test"), &[slow.addr]);
    down.backends[0].healthy = false;
    let routes = vec![
        down,
        route("s/gone/r", host("gone.test"), &[closed_port().await]),
        route("s/slow/r", host("slow.test"), &[slow.addr]),
    ];
    let config = Config {
        response_timeout: Duration::from_millis(300),
        ..Config::default()
    };
    let p = start(config, routes).await;
    for (host, path, status) in [
        ("nothing.test", "/", 404),
        ("down.test", "/", 503),
        ("gone.test", "/", 502),
        ("slow.test", "/slow", 504),
    ] {
        let text = get(p.addr, host, path).await;
        assert_eq!(text.status, status, "{host}: {}", text.body);
        assert!(
            text.body.starts_with(&format!("{status} ")),
            "{}",
            text.body
        );
        assert_eq!(text.headers["content-type"], "text/plain; charset=utf-8");
        assert_eq!(text.headers["cache-control"], "no-store");
        let mut req = request("GET", host, path, common::full(""));
        req.headers_mut()
            .insert("accept", "text/html,*/*".parse().unwrap());
        let html = send(p.addr, req).await;
        assert_eq!(html.status, status);
        assert!(
            html.body.starts_with("<!doctype html>")
                && html.body.contains(&format!("<h1>{status} ")),
            "{}",
            html.body
        );
    }
}

#[tokio::test]
async fn a_new_table_takes_effect_for_the_next_request() {
    let (a, b) = (backend("a").await, backend("b").await);
    let p = start(
        Config::default(),
        vec![route("s/a/r", host("a.test"), &[a.addr])],
    )
    .await;
    assert_eq!(get(p.addr, "a.test", "/").await.backend(), "a");
    assert_eq!(get(p.addr, "new.test", "/").await.status, 404);
    p.proxy.set_table(Table {
        routes: vec![
            route("s/a/r", host("a.test"), &[b.addr]),
            route("s/new/r", host("new.test"), &[a.addr]),
        ],
    });
    assert_eq!(get(p.addr, "a.test", "/").await.backend(), "b");
    assert_eq!(get(p.addr, "new.test", "/").await.backend(), "a");
    let mut r = route("s/a/r", host("a.test"), &[]);
    r.backends.push(Backend {
        addr: b.addr,
        healthy: false,
    });
    p.proxy.set_table(Table { routes: vec![r] });
    assert_eq!(get(p.addr, "a.test", "/").await.status, 503);
}

#[tokio::test]
async fn acme_challenges_are_answered_on_http_before_routing() {
    let a = backend("a").await;
    let all = Rule::PathPrefix(vec!["/".into()]);
    let p = start(Config::default(), vec![route("s/a/r", all, &[a.addr])]).await;
    p.proxy.challenges().set("tok1", "tok1.thumb");
    let r = get(p.addr, "any.test", "/.well-known/acme-challenge/tok1").await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "tok1.thumb"));
    assert_eq!(
        get(p.addr, "any.test", "/.well-known/acme-challenge/other")
            .await
            .backend(),
        "a"
    );
    p.proxy.challenges().remove("tok1");
    assert_eq!(
        get(p.addr, "any.test", "/.well-known/acme-challenge/tok1")
            .await
            .backend(),
        "a"
    );
}

#[tokio::test]
async fn an_https_only_route_redirects_plain_http() {
    let a = backend("a").await;
    let mut r = route("s/a/r", host("a.test"), &[a.addr]);
    r.http = false;
    let p = start(Config::default(), vec![r]).await;
    let reply = get(p.addr, "a.test:8080", "/x?y=1").await;
    assert_eq!(reply.status, 308);
    assert_eq!(reply.headers["location"], "https://a.test/x?y=1");
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_by_length_or_while_streaming() {
    let a = backend("a").await;
    let config = Config {
        max_request_body: Some(100_000),
        ..Config::default()
    };
    let p = start(config, vec![route("s/a/r", host("a.test"), &[a.addr])]).await;
    let ok = send(
        p.addr,
        request(
            "POST",
            "a.test",
            "/upload",
            common::full(vec![0u8; 100_000]),
        ),
    )
    .await;
    assert_eq!(
        (ok.status.as_u16(), ok.body.as_str()),
        (200, "bytes=100000\n")
    );
    let by_length = send(
        p.addr,
        request(
            "POST",
            "a.test",
            "/upload",
            common::full(vec![0u8; 100_001]),
        ),
    )
    .await;
    assert_eq!(by_length.status, 413);
    // No length announced: the proxy counts while it streams.
    let streamed = send(
        p.addr,
        request("POST", "a.test", "/upload", stream_of(200_000)),
    )
    .await;
    assert_eq!(streamed.status, 413, "{}", streamed.body);
}

#[tokio::test]
async fn fifty_mib_stream_through_both_ways() {
    let a = backend("a").await;
    let p = start(
        Config::default(),
        vec![route("s/a/r", host("a.test"), &[a.addr])],
    )
    .await;
    let n = 50 << 20;
    let up = send(p.addr, request("POST", "a.test", "/upload", stream_of(n))).await;
    assert_eq!(up.body, format!("bytes={n}\n"));
    let down = get(p.addr, "a.test", &format!("/download/{n}")).await;
    assert_eq!(down.body.len(), n);
}
