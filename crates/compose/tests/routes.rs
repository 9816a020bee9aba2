//! Ingress routes read while loading: both forms, findings at file:line:col.
mod common;

use common::Project;
use expect_test::{expect, Expect};

const BOTH_FORMS: &str = r#"services:
  web:
    image: nginx
    ports: ["8080:80"]
    labels:
      - "traefik.enable=true"
      - "traefik.http.routers.web.rule=Host(`www.example.com`) || Host(`example.com`)"
      - "traefik.http.routers.web.entrypoints=websecure"
      - "traefik.http.routers.web.tls.certresolver=le"
      - "traefik.http.routers.web.middlewares=redirect"
  api:
    image: api
    expose: ["3000", "9090"]
    labels:
      traefik.http.routers.api.rule: Host(`example.com`) && PathPrefix(`/api`)
      traefik.http.services.api.loadbalancer.server.port: 3000
    deploy:
      labels:
        traefik.docker.network: proxy
    x-roost:
      singleton: true
      routes:
        - host: api.home.arpa
          port: 9090
  admin:
    image: admin
    x-roost:
      routes: [{ hosts: [admin.lan], path: /admin, tls: off }]
      pin_to_volume: false
      sticky: yes
"#;

/// Routes per service as `service: route json`, then warnings.
fn routes_and_warnings(p: &Project) -> String {
    let l = p.load(&["compose.yaml"], &[], &[]).unwrap();
    let mut out = String::new();
    for (name, s) in &l.stack.services {
        for r in &s.routes {
            out.push_str(&format!("{name}: {}\n", p.strip(serde_json::to_string(r).unwrap())));
        }
    }
    for w in &l.warnings {
        out.push_str(&p.strip(w.to_string()));
        out.push('\n');
    }
    out
}

#[test]
fn routes_from_labels_and_x_roost() {
    let p = Project::new(&[("compose.yaml", BOTH_FORMS)]);
    expect![[r#"
        admin: {"name":"x-roost-0","rule":"Host(`admin.lan`) && PathPrefix(`/admin`)","tls":"off","entrypoints":{"http":true},"origin":"compose.yaml:28:16"}
        api: {"name":"api","rule":"Host(`example.com`) && PathPrefix(`/api`)","port":3000,"tls":"off","entrypoints":{"http":true},"origin":"compose.yaml:15:38"}
        api: {"name":"x-roost-0","rule":"Host(`api.home.arpa`)","port":9090,"tls":"internal","entrypoints":{"https":true},"origin":"compose.yaml:23:11"}
        web: {"name":"web","rule":"Host(`www.example.com`) || Host(`example.com`)","port":80,"tls":{"acme":{"resolver":"le"}},"entrypoints":{"https":true},"origin":"compose.yaml:7:9"}
        compose.yaml:10:9: warning: services.web.labels.traefik.http.routers.web.middlewares: middlewares are not supported by roost's proxy: the router is served without them
           |
        10 |       - "traefik.http.routers.web.middlewares=redirect"
           |         ^
        compose.yaml:19:9: warning: services.api.labels.traefik.docker.network: settings of Traefik's Docker provider do not apply to roost; ignored
           |
        19 |         traefik.docker.network: proxy
           |         ^
        compose.yaml:30:7: warning: services.admin.x-roost.sticky: unknown x-roost key `sticky` (roost reads singleton, pin_to_volume, routes, together); ignored
           |
        30 |       sticky: yes
           |       ^
    "#]]
    .assert_eq(&routes_and_warnings(&p));
    // x-roost keys read elsewhere stay as they were.
    let l = p.load(&["compose.yaml"], &[], &[]).unwrap();
    assert_eq!(l.stack.services["api"].x_roost.as_ref().unwrap()["singleton"], true);
}

fn check_err(yaml: &str, want: Expect) {
    let p = Project::new(&[("compose.yaml", yaml)]);
    let err = p.load(&["compose.yaml"], &[], &[]).unwrap_err();
    want.assert_eq(&p.strip(err.to_string()));
}

#[test]
fn a_bad_rule_is_an_error_at_its_column() {
    check_err(
        "services:\n  web:\n    image: nginx\n    labels:\n      - \"traefik.http.routers.web.rule=Host(`a.example.com`))\"\n",
        expect![[r#"
            compose.yaml:5:61: error: services.web.labels.traefik.http.routers.web.rule: unexpected `)` at column 22
              |
            5 |       - "traefik.http.routers.web.rule=Host(`a.example.com`))"
              |                                                             ^"#]],
    );
    check_err(
        "services:\n  web:\n    image: nginx\n    labels:\n      traefik.http.routers.web.rule: \"Host(`a`) && Hots(`b`)\"\n",
        expect![[r#"
            compose.yaml:5:52: error: services.web.labels.traefik.http.routers.web.rule: unknown matcher `Hots`; use Host or PathPrefix at column 14
              |
            5 |       traefik.http.routers.web.rule: "Host(`a`) && Hots(`b`)"
              |                                                    ^"#]],
    );
    // Not verbatim on the line (a variable): the error points at the value.
    check_err(
        "services:\n  web:\n    image: nginx\n    labels:\n      traefik.http.routers.web.rule: Host(`${NAME:-a}`) &&\n",
        expect![[r#"
            compose.yaml:5:38: error: services.web.labels.traefik.http.routers.web.rule: unexpected end of rule, expected a matcher such as Host(`example.com`) at column 13
              |
            5 |       traefik.http.routers.web.rule: Host(`${NAME:-a}`) &&
              |                                      ^"#]],
    );
}

#[test]
fn bad_x_roost_routes_are_errors_at_the_key() {
    check_err(
        "services:\n  web:\n    image: nginx\n    x-roost:\n      routes:\n        - host: a.lan\n          path: api\n        - port: 8080\n",
        expect![[r#"
            compose.yaml:7:17: error: services.web.x-roost.routes[0].path: path prefix `api` must start with `/`
              |
            7 |           path: api
              |                 ^
            compose.yaml:8:11: error: services.web.x-roost.routes[1]: a route needs `host` or `hosts`
              |
            8 |         - port: 8080
              |           ^"#]],
    );
}

#[test]
fn two_routes_of_one_file_claiming_the_same_requests_are_an_error() {
    check_err(
        "services:\n  a:\n    image: nginx\n    x-roost:\n      routes: [{host: app.lan}]\n  b:\n    image: nginx\n    labels:\n      - traefik.http.routers.b.rule=Host(`APP.lan`)\n      - traefik.http.routers.b.tls=true\n",
        expect![[r#"
            compose.yaml:9:9: error: services.b.labels.traefik.http.routers.b.rule: route `b`: app.lan (https) is also claimed by demo/a (route x-roost-0, compose.yaml:5:16)
              |
            9 |       - traefik.http.routers.b.rule=Host(`APP.lan`)
              |         ^"#]],
    );
    // The usual pair: the same host on http (to redirect) and on https is fine.
    let p = Project::new(&[(
        "compose.yaml",
        "services:\n  a:\n    image: nginx\n    labels:\n      - traefik.http.routers.a.rule=Host(`a.example.com`)\n      - traefik.http.routers.a.entrypoints=web\n      - traefik.http.routers.a-tls.rule=Host(`a.example.com`)\n      - traefik.http.routers.a-tls.tls.certresolver=le\n",
    )]);
    assert_eq!(p.load(&["compose.yaml"], &[], &[]).unwrap().stack.services["a"].routes.len(), 2);
}

#[test]
fn roost_config_shows_routes_with_their_rule_text() {
    let p = Project::new(&[("compose.yaml", BOTH_FORMS)]);
    let y = roost_compose::render_yaml(&p.load(&["compose.yaml"], &[], &[]).unwrap().stack);
    let at = y.find("    routes:\n    - name: web").expect(&y);
    expect![[r#"
            routes:
            - name: web
              rule: Host(`www.example.com`) || Host(`example.com`)
              port: 80
              tls:
                acme:
                  resolver: le
              entrypoints:
                https: true
              origin: compose.yaml:7:9"#]]
    .assert_eq(&p.strip(y[at..].lines().take(10).map(|l| &l[4..]).collect::<Vec<_>>().join("\n")));
}
