//! Route conflicts between stacks and services, as data.
use expect_test::{expect, Expect};
use roost_routes::{conflicts, Claim, Entrypoints, Route, Tls};

fn route(name: &str, rule: &str, https: bool) -> Route {
    let tls = if https { Tls::Internal } else { Tls::Off };
    Route { name: name.into(), rule: rule.parse().unwrap(), port: Some(80), entrypoints: Entrypoints::for_tls(&tls), tls, origin: Some(format!("{name}.yaml:1:1")) }
}

/// `existing` and `new` as (stack, service, route); one line per conflict.
fn check(existing: &[(&str, &str, Route)], new: &[(&str, &str, Route)], want: Expect) {
    let claims = |v: &[(&str, &str, Route)]| -> Vec<(String, String, Route)> { v.iter().map(|(a, b, r)| (a.to_string(), b.to_string(), r.clone())).collect() };
    let (e, n) = (claims(existing), claims(new));
    let ec: Vec<Claim<'_>> = e.iter().map(|(s, v, r)| Claim { stack: s, service: v, route: r }).collect();
    let nc: Vec<Claim<'_>> = n.iter().map(|(s, v, r)| Claim { stack: s, service: v, route: r }).collect();
    let out: Vec<String> = conflicts(&ec, &nc).iter().map(|c| format!("{}: {c}", c.new)).collect();
    want.assert_eq(&out.join("\n"));
}

#[test]
fn same_rule_in_two_stacks_conflicts() {
    check(
        &[("blog", "web", route("a", "Host(`blog.example.com`)", true))],
        &[("shop", "web", route("b", "Host(`BLOG.example.com`)", true))],
        expect!["shop/web (route b, b.yaml:1:1): blog.example.com (https) is also claimed by blog/web (route a, a.yaml:1:1)"],
    );
}

#[test]
fn different_prefixes_listeners_or_hosts_do_not_conflict() {
    check(
        &[
            ("blog", "web", route("a", "Host(`x.example.com`)", true)),
            ("blog", "api", route("b", "Host(`x.example.com`) && PathPrefix(`/api`)", true)),
            ("blog", "plain", route("c", "Host(`y.example.com`)", false)),
        ],
        &[
            ("shop", "web", route("d", "Host(`x.example.com`) && PathPrefix(`/shop`)", true)),
            ("shop", "tls", route("e", "Host(`y.example.com`)", true)),
            ("shop", "z", route("f", "Host(`z.example.com`) || Host(`w.example.com`)", true)),
            ("shop", "and", route("g", "Host(`x.example.com`) && Host(`q.example.com`)", true)),
        ],
        expect![""],
    );
}

#[test]
fn overlaps_through_or_and_prefixes_and_hostless_rules() {
    check(
        &[
            ("blog", "web", route("a", "Host(`a.example.com`, `b.example.com`) && PathPrefix(`/x`)", true)),
            ("blog", "any", route("b", "PathPrefix(`/health`)", false)),
            ("blog", "root", route("c", "Host(`r.example.com`) && PathPrefix(`/`)", true)),
        ],
        &[
            ("shop", "web", route("d", "Host(`b.example.com`) && (PathPrefix(`/y`) || PathPrefix(`/x`))", true)),
            ("shop", "any", route("e", "PathPrefix(`/health`)", false)),
            ("shop", "root", route("f", "Host(`r.example.com`)", true)),
            ("shop", "narrow", route("g", "PathPrefix(`/x`) && PathPrefix(`/xy`) && Host(`a.example.com`)", true)),
        ],
        expect![[r#"
            shop/web (route d, d.yaml:1:1): b.example.com/x (https) is also claimed by blog/web (route a, a.yaml:1:1)
            shop/any (route e, e.yaml:1:1): */health (http) is also claimed by blog/any (route b, b.yaml:1:1)
            shop/root (route f, f.yaml:1:1): r.example.com (https) is also claimed by blog/root (route c, c.yaml:1:1)"#]],
    );
}

#[test]
fn a_stack_replaces_its_own_old_routes_but_not_within_itself() {
    let old = [("blog", "web", route("a", "Host(`a.example.com`)", true))];
    check(&old, &[("blog", "web", route("a", "Host(`a.example.com`)", true))], expect![""]);
    check(
        &old,
        &[("blog", "web", route("a", "Host(`a.example.com`)", true)), ("blog", "admin", route("b", "Host(`a.example.com`)", true))],
        expect!["blog/admin (route b, b.yaml:1:1): a.example.com (https) is also claimed by blog/web (route a, a.yaml:1:1)"],
    );
    check(
        &[],
        &[("blog", "web", route("a", "!Host(`a.example.com`)", false)), ("blog", "web", route("b", "!PathPrefix(`/x`)", false))],
        expect!["blog/web (route b, b.yaml:1:1): * (http) is also claimed by blog/web (route a, a.yaml:1:1)"],
    );
}
