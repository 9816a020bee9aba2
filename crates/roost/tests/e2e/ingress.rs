//! The ingress on one node: routes from both compose forms reach the right service.

use crate::harness::{ok, stderr, wait_until, Agent, INGRESS_HTTP};
use std::time::Duration;

#[path = "../common/http.rs"]
mod http;

/// `GET path` with `Host: host` through the agent's HTTP listener: (status, body).
pub fn get(host: &str, path: &str) -> Option<(u16, String)> {
    http::get(INGRESS_HTTP, host, path, Duration::from_secs(5))
}

/// A busybox web server answering `text` at `/` and `/api/`.
fn httpd(text: &str) -> String {
    format!(
        "image: roost-test/busybox:latest
    command: [\"sh\", \"-c\", \"mkdir -p /www/api && echo {text} > /www/index.html && echo {text}-api > /www/api/index.html && exec httpd -f -p 8080 -h /www\"]
    healthcheck:
      test: [\"CMD\", \"wget\", \"-q\", \"-O-\", \"http://localhost:8080/\"]
      interval: 1s"
    )
}

#[test]
fn routes_from_x_roost_and_traefik_labels_reach_the_right_service() {
    let _serial = crate::harness::serial();
    let mut agent = Agent::start();
    let blog = format!(
        "services:
  web:
    {}
    x-roost:
      routes:
        - host: blog.lan
          port: 8080
          tls: off
",
        httpd("blog")
    );
    let shop = format!(
        "services:
  api:
    {}
    labels:
      traefik.enable: \"true\"
      traefik.http.routers.api.rule: Host(`shop.lan`) && PathPrefix(`/api`)
      traefik.http.routers.api.entrypoints: web
      traefik.http.services.api.loadbalancer.server.port: \"8080\"
  front:
    {}
    labels:
      - traefik.http.routers.front.rule=Host(`shop.lan`)
      - traefik.http.routers.front.entrypoints=web
      - traefik.http.services.front.loadbalancer.server.port=8080
",
        httpd("shop-api"),
        httpd("shop-front")
    );
    ok(&agent.up("blog", &blog));
    ok(&agent.up("shop", &shop));
    wait_until(Duration::from_secs(10), "the blog route", || get("blog.lan", "/").is_some_and(|(s, _)| s == 200));
    assert_eq!(get("blog.lan", "/"), Some((200, "blog".into())));
    assert_eq!(get("BLOG.lan:18480", "/"), Some((200, "blog".into())), "host names compare without case and port");
    // Both services must be healthy before their routes can be compared: `up` without
    // `--wait` returns while health checks still run, and a route whose only replica is not
    // yet healthy rightly answers 503 (this wait once covered `front` only and flaked in CI).
    wait_until(Duration::from_secs(10), "the shop routes", || {
        get("shop.lan", "/").is_some_and(|(s, _)| s == 200) && get("shop.lan", "/api/").is_some_and(|(s, _)| s == 200)
    });
    assert_eq!(get("shop.lan", "/api/"), Some((200, "shop-api-api".into())), "the longer rule (path prefix) wins");
    assert_eq!(get("shop.lan", "/"), Some((200, "shop-front".into())));
    let (status, body) = get("nothing.lan", "/").unwrap();
    assert_eq!(status, 404, "no route: {body}");

    // Routes change live: removing a stack removes its route.
    ok(&agent.roost(&["down", "-p", "blog"]));
    wait_until(Duration::from_secs(10), "the blog route gone", || get("blog.lan", "/").is_some_and(|(s, _)| s == 404));
}

#[test]
fn a_route_claimed_by_another_stack_is_refused_naming_both() {
    let _serial = crate::harness::serial();
    let mut agent = Agent::start();
    let one = format!("services:\n  web:\n    {}\n    x-roost: {{routes: [{{host: same.lan, port: 8080, tls: off}}]}}\n", httpd("one"));
    ok(&agent.up("one", &one));
    let two = format!(
        "services:\n  site:\n    {}\n    labels: [\"traefik.http.routers.r.rule=Host(`same.lan`)\", \"traefik.http.services.s.loadbalancer.server.port=8080\"]\n",
        httpd("two")
    );
    let out = agent.up("two", &two);
    assert!(!out.status.success(), "a clashing route must be refused");
    let err = stderr(&out);
    assert!(err.contains("same.lan") && err.contains("one/web") && err.contains("two/site"), "{err}");
    assert!(err.contains("two.yaml:"), "the new route's line is named: {err}");
    // Nothing of the refused stack was deployed.
    assert!(agent.ps("two").is_empty());
}

#[test]
fn a_websocket_echoes_through_the_proxy() {
    let _serial = crate::harness::serial();
    let mut agent = Agent::start();
    let stack = "services:
  echo:
    image: roost-test/echo:latest
    x-roost:
      routes: [{host: ws.lan, port: 8080, tls: off}]
";
    ok(&agent.up("ws", stack));
    wait_until(Duration::from_secs(10), "the ws route", || get("ws.lan", "/health").is_some_and(|(s, _)| s == 200));
    let reply = http::websocket_echo(INGRESS_HTTP, "ws.lan", "/chat", "hello through roost");
    assert_eq!(reply, Ok("hello through roost".to_owned()));
}
