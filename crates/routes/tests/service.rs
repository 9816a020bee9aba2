//! Reading routes from a service's labels and `x-roost`, as data.
use expect_test::{expect, Expect};
use roost_routes::{from_service, Route, ServiceInput};
use std::collections::BTreeMap;

/// Routes as JSON lines, then findings.
fn check(labels: &[&str], x_roost: Option<serde_json::Value>, ports: &[u16], want: Expect) {
    let labels: BTreeMap<String, String> = labels.iter().map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).unwrap()).collect();
    let input = ServiceInput { labels: &labels, x_roost: x_roost.as_ref(), ports };
    let got = from_service(&input);
    let mut out = String::new();
    for (subject, r) in &got.routes {
        let r = Route { origin: Some(format!("<{subject}>")), ..r.clone() };
        out.push_str(&serde_json::to_string(&r).unwrap());
        out.push('\n');
    }
    for f in &got.findings {
        out.push_str(&f.to_string());
        out.push('\n');
    }
    want.assert_eq(&out);
}

#[test]
fn traefik_routers_become_routes() {
    check(
        &[
            "traefik.enable=true",
            "traefik.http.routers.app.rule=Host(`app.example.com`) && PathPrefix(`/api`)",
            "traefik.http.routers.app.entrypoints=websecure",
            "traefik.http.routers.app.tls.certresolver=le",
            "traefik.http.routers.app.service=api",
            "traefik.http.services.api.loadbalancer.server.port=8080",
            "traefik.http.routers.plain.rule=Host(`app.lan`)",
            "traefik.http.routers.plain.service=api",
        ],
        None,
        &[],
        expect![[r#"
            {"name":"app","rule":"Host(`app.example.com`) && PathPrefix(`/api`)","port":8080,"tls":{"acme":{"resolver":"le"}},"entrypoints":{"https":true},"origin":"<labels.traefik.http.routers.app.rule>"}
            {"name":"plain","rule":"Host(`app.lan`)","port":8080,"tls":"off","entrypoints":{"http":true},"origin":"<labels.traefik.http.routers.plain.rule>"}
        "#]],
    );
}

#[test]
fn traefik_tls_and_entrypoint_defaults() {
    check(
        &[
            // websecure without TLS labels: TLS configured on Traefik's entrypoint.
            "traefik.http.routers.a.rule=Host(`a.example.com`)",
            "traefik.http.routers.a.entrypoints=websecure",
            "traefik.http.routers.b.rule=Host(`b.home.arpa`)",
            "traefik.http.routers.b.tls=true",
            "traefik.http.routers.c.rule=Host(`c.example.com`)",
            "traefik.http.routers.c.entrypoints=web,websecure",
            "traefik.http.routers.d.rule=Host(`d.example.com`)",
            "traefik.http.routers.d.entrypoints=web,traefik",
            "traefik.http.routers.e.rule=Host(`e.example.com`)",
            "traefik.http.routers.e.entrypoints=web",
            "traefik.http.routers.e.TLS=TRUE",
        ],
        None,
        &[80],
        expect![[r#"
            {"name":"a","rule":"Host(`a.example.com`)","port":80,"tls":{"acme":{"resolver":"default"}},"entrypoints":{"https":true},"origin":"<labels.traefik.http.routers.a.rule>"}
            {"name":"b","rule":"Host(`b.home.arpa`)","port":80,"tls":"internal","entrypoints":{"https":true},"origin":"<labels.traefik.http.routers.b.rule>"}
            {"name":"c","rule":"Host(`c.example.com`)","port":80,"tls":{"acme":{"resolver":"default"}},"entrypoints":{"http":true,"https":true},"origin":"<labels.traefik.http.routers.c.rule>"}
            {"name":"d","rule":"Host(`d.example.com`)","port":80,"tls":"off","entrypoints":{"http":true},"origin":"<labels.traefik.http.routers.d.rule>"}
            {"name":"e","rule":"Host(`e.example.com`)","port":80,"tls":{"acme":{"resolver":"default"}},"entrypoints":{"https":true},"origin":"<labels.traefik.http.routers.e.rule>"}
            warning: labels.traefik.http.routers.d.entrypoints: entrypoint `traefik` is unknown to roost, which serves `web` (port 80) and `websecure` (port 443); ignored
            warning: labels.traefik.http.routers.e.entrypoints: router `e` has TLS: roost serves it on `websecure` (port 443) only
        "#]],
    );
}

#[test]
fn every_other_traefik_label_is_a_named_warning() {
    check(
        &[
            "traefik.enable=true",
            "traefik.docker.network=proxy",
            "traefik.http.routers.app.rule=Host(`app.example.com`)",
            "traefik.http.routers.app.middlewares=auth,compress",
            "traefik.http.routers.app.priority=10",
            "traefik.http.routers.app.tls.domains[0].main=example.com",
            "traefik.http.middlewares.auth.basicauth.users=u:p",
            "traefik.http.services.app.loadbalancer.server.scheme=h2c",
            "traefik.tcp.routers.db.rule=HostSNI(`*`)",
            "traefik.udp.services.dns.loadbalancer.server.port=53",
            "traefik.frontend.rule=Host:a.example.com",
        ],
        None,
        &[3000],
        expect![[r#"
            {"name":"app","rule":"Host(`app.example.com`)","port":3000,"tls":"off","entrypoints":{"http":true},"origin":"<labels.traefik.http.routers.app.rule>"}
            warning: labels.traefik.docker.network: settings of Traefik's Docker provider do not apply to roost; ignored
            warning: labels.traefik.frontend.rule: this Traefik label is not supported by roost's proxy and is ignored
            warning: labels.traefik.http.middlewares.auth.basicauth.users: HTTP middlewares are not supported by roost's proxy; ignored
            warning: labels.traefik.http.routers.app.middlewares: middlewares are not supported by roost's proxy: the router is served without them
            warning: labels.traefik.http.routers.app.priority: roost orders routes by rule length (Traefik's default priority); ignored
            warning: labels.traefik.http.routers.app.tls.domains[0].main: router option `tls.domains[0].main` is not supported by roost's proxy and is ignored
            warning: labels.traefik.http.services.app.loadbalancer.server.scheme: service option `loadbalancer.server.scheme` is not supported by roost's proxy and is ignored
            warning: labels.traefik.tcp.routers.db.rule: TCP routing is not supported by roost's proxy and is ignored
            warning: labels.traefik.udp.services.dns.loadbalancer.server.port: UDP routing is not supported by roost's proxy and is ignored
        "#]],
    );
}

#[test]
fn traefik_routers_that_cannot_be_routed() {
    check(
        &[
            "traefik.http.routers.dash.rule=Host(`traefik.example.com`)",
            "traefik.http.routers.dash.service=api@internal",
            "traefik.http.routers.go.rule=Path(`/`)",
            "traefik.http.routers.norule.entrypoints=web",
            "traefik.http.routers.other.rule=Host(`o.example.com`)",
            "traefik.http.routers.other.service=elsewhere",
            "traefik.http.routers.bad.rule=Host(`a`))",
            "traefik.http.routers.typo.rule=Hots(`a`)",
            "traefik.http.routers.tlsbad.rule=Host(`a`)",
            "traefik.http.routers.tlsbad.tls=yes",
        ],
        None,
        &[80],
        expect![[r#"
            error: labels.traefik.http.routers.bad.rule: unexpected `)` at column 10
            warning: labels.traefik.http.routers.dash.service: service `api@internal` is not defined by this service's labels; roost routes a router only to its own containers, so router `dash` is not routed
            warning: labels.traefik.http.routers.go.rule: Path is not supported; use Host or PathPrefix; router `go` is not routed by roost
            warning: labels.traefik.http.routers.norule.entrypoints: router `norule` has no rule: Traefik would make one up from the container name; roost does not route it (add traefik.http.routers.norule.rule)
            warning: labels.traefik.http.routers.other.service: service `elsewhere` is not defined by this service's labels; roost routes a router only to its own containers, so router `other` is not routed
            error: labels.traefik.http.routers.tlsbad.tls: expected true or false, found `yes`
            error: labels.traefik.http.routers.typo.rule: unknown matcher `Hots`; use Host or PathPrefix at column 1
        "#]],
    );
}

#[test]
fn traefik_enable_and_ports() {
    // Disabled: nothing, silently (the label is honoured).
    check(&["traefik.enable=false", "traefik.http.routers.a.rule=Host(`a`)"], None, &[], expect![""]);
    check(&["traefik.enable=maybe"], None, &[], expect![[r#"
        error: labels.traefik.enable: expected true or false, found `maybe`
    "#]]);
    // Enabled with no router: Traefik's made-up default rule is not copied.
    check(&["traefik.enable=true", "traefik.http.services.s.loadbalancer.server.port=80"], None, &[], expect![[r#"
        warning: labels.traefik.enable: no router is defined (traefik.http.routers.NAME.rule): Traefik would make up a rule from the container name; roost routes nothing for this service
    "#]]);
    check(
        &[
            "traefik.http.routers.a.rule=Host(`a`)",
            "traefik.http.routers.b.rule=Host(`b`)",
            "traefik.http.routers.b.service=s1",
            "traefik.http.services.s1.loadbalancer.server.port=0",
            "traefik.http.services.s2.loadbalancer.server.port=81",
        ],
        None,
        &[],
        expect![[r#"
            error: labels.traefik.http.services.s1.loadbalancer.server.port: expected a port number (1-65535), found `0`
            error: labels.traefik.http.routers.a.rule: router `a` does not say which service it uses (s1, s2): add traefik.http.routers.a.service
        "#]],
    );
    // No port label: the one port the file names, none (run time), or an error.
    check(&["traefik.http.routers.a.rule=Host(`a`)"], None, &[], expect![[r#"
        {"name":"a","rule":"Host(`a`)","tls":"off","entrypoints":{"http":true},"origin":"<labels.traefik.http.routers.a.rule>"}
    "#]]);
    check(&["traefik.http.routers.a.rule=Host(`a`)"], None, &[80, 443], expect![[r#"
        error: labels.traefik.http.routers.a.rule: the service has several container ports (80, 443): say which one with traefik.http.services.a.loadbalancer.server.port
    "#]]);
}

#[test]
fn x_roost_routes() {
    let x = serde_json::json!({
        "singleton": true,
        "routes": [
            { "host": "app.home.arpa" },
            { "hosts": ["a.example.com", "b.example.com"], "path": "/api", "port": 8080 },
            { "host": "c.example.com", "tls": "off", "port": "9000" },
            { "host": "nas", "tls": "acme" },
        ],
    });
    check(&[], Some(x), &[3000], expect![[r#"
        {"name":"x-roost-0","rule":"Host(`app.home.arpa`)","port":3000,"tls":"internal","entrypoints":{"https":true},"origin":"<x-roost.routes[0]>"}
        {"name":"x-roost-1","rule":"Host(`a.example.com`, `b.example.com`) && PathPrefix(`/api`)","port":8080,"tls":{"acme":{"resolver":"default"}},"entrypoints":{"https":true},"origin":"<x-roost.routes[1]>"}
        {"name":"x-roost-2","rule":"Host(`c.example.com`)","port":9000,"tls":"off","entrypoints":{"http":true},"origin":"<x-roost.routes[2]>"}
        {"name":"x-roost-3","rule":"Host(`nas`)","port":3000,"tls":{"acme":{"resolver":"default"}},"entrypoints":{"https":true},"origin":"<x-roost.routes[3]>"}
    "#]]);
}

#[test]
fn x_roost_bad_shapes_are_errors_naming_the_key() {
    check(&[], Some(serde_json::json!("routes")), &[], expect![[r#"
        error: x-roost: expected a mapping, found a string
    "#]]);
    check(&[], Some(serde_json::json!({ "routes": { "host": "a" } })), &[], expect![[r#"
        error: x-roost.routes: expected a list of routes, found a mapping
    "#]]);
    let x = serde_json::json!({ "routes": [
        "a.example.com",
        {},
        { "host": "a", "hosts": ["b"] },
        { "host": "", "path": "api", "port": 70000, "tls": "yes", "prot": 1 },
        { "hosts": ["a.lan", 5] },
        { "hosts": [] },
        { "hosts": ["a.lan", "a.example.com"] },
        { "host": "a.lan" },
    ]});
    check(&[], Some(x), &[80, 81], expect![[r#"
        error: x-roost.routes[0]: expected a mapping with host, hosts, path, port, tls, found a string
        error: x-roost.routes[1]: a route needs `host` or `hosts`
        error: x-roost.routes[2].hosts: give `host` or `hosts`, not both
        error: x-roost.routes[3].path: path prefix `api` must start with `/`
        error: x-roost.routes[3].port: expected a port number (1-65535), found 70000
        error: x-roost.routes[3].prot: unknown key `prot` (a route has host, hosts, path, port, tls)
        error: x-roost.routes[3].tls: expected acme, internal or off, found "yes"
        error: x-roost.routes[3].host: empty host
        error: x-roost.routes[4].hosts[1]: expected a host name, found a number
        error: x-roost.routes[5].hosts: expected a non-empty list of host names, found a list
        error: x-roost.routes[6]: the hosts mix local and public names, so neither internal nor acme TLS works for all: set `tls` or split the route
        error: x-roost.routes[7]: the service has several container ports (80, 81): say which one with `port`
    "#]]);
}

#[test]
fn both_forms_together_and_no_routes_at_all() {
    check(&["com.example=1"], Some(serde_json::json!({ "pin_to_volume": true })), &[], expect![""]);
    check(
        &["traefik.http.routers.web.rule=Host(`w.example.com`)"],
        Some(serde_json::json!({ "routes": [{ "host": "w.lan" }] })),
        &[80],
        expect![[r#"
            {"name":"web","rule":"Host(`w.example.com`)","port":80,"tls":"off","entrypoints":{"http":true},"origin":"<labels.traefik.http.routers.web.rule>"}
            {"name":"x-roost-0","rule":"Host(`w.lan`)","port":80,"tls":"internal","entrypoints":{"https":true},"origin":"<x-roost.routes[0]>"}
        "#]],
    );
}
