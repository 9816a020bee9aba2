use super::*;
use roost_certs::IngressCa;
use roost_cluster::ingress::AcmeResolver;

fn stack(name: &str, routes: &[&str]) -> Stack {
    let routes = routes.iter().map(|r| serde_json::from_str(r).unwrap()).collect();
    let svc = roost_spec::Service { routes, ..Default::default() };
    Stack { name: name.into(), services: BTreeMap::from([("web".into(), svc)]), ..Default::default() }
}

const SHOP: &str = r#"{"name":"shop","rule":"Host(`Shop.Example.com`) || Host(`nas.lan`)","tls":{"acme":{"resolver":"le"}},"entrypoints":{"https":true}}"#;
const APP: &str = r#"{"name":"app","rule":"Host(`app.home.arpa`) && PathPrefix(`/api`)","tls":"internal","entrypoints":{"https":true}}"#;
const PLAIN: &str = r#"{"name":"plain","rule":"Host(`plain.lan`)","tls":"off","entrypoints":{"http":true}}"#;
const NO_HOST: &str = r#"{"name":"any","rule":"PathPrefix(`/x`)","tls":"internal","entrypoints":{"https":true}}"#;

fn acme(resolver: &str) -> Want {
    Want::Acme { resolver: resolver.into() }
}

#[test]
fn https_routes_need_one_certificate_per_host_and_local_names_come_from_the_internal_ca() {
    let stacks = [stack("shop", &[SHOP, PLAIN]), stack("app", &[APP, NO_HOST])];
    let needs = needed(&stacks);
    assert_eq!(
        needs.hosts,
        BTreeMap::from([
            ("app.home.arpa".into(), Want::Internal),
            ("nas.lan".into(), Want::Internal),
            ("shop.example.com".into(), acme("le")),
        ])
    );
    assert_eq!(needs.problems.len(), 2, "{:?}", needs.problems);
    assert!(needs.problems[0].contains("shop/web route shop") && needs.problems[0].contains("nas.lan"));
    assert!(needs.problems[0].contains("internal CA"));
    assert!(needs.problems[1].contains("app/web route any") && needs.problems[1].contains("no host"));
}

#[test]
fn a_host_wanted_both_ways_gets_the_publicly_trusted_certificate() {
    let internal = r#"{"name":"i","rule":"Host(`shop.example.com`) && PathPrefix(`/admin`)","tls":"internal","entrypoints":{"https":true}}"#;
    let needs = needed(&[stack("a", &[internal]), stack("b", &[SHOP])]);
    assert_eq!(needs.hosts["shop.example.com"], acme("le"));
    assert!(needs.problems.iter().any(|p| p.contains("ACME wins")), "{:?}", needs.problems);
}

#[test]
fn unconfigured_resolvers_use_the_default_one_and_that_defaults_to_lets_encrypt() {
    let mut settings = AcmeSettings::default();
    assert_eq!(effective(&settings, "le"), ("default".into(), AcmeResolver { directory: LETS_ENCRYPT.into(), contact: vec![], root_ca_pem: None }));
    let pebble = AcmeResolver { directory: "https://127.0.0.1:14000/dir".into(), contact: vec![], root_ca_pem: Some("pem".into()) };
    settings.resolvers.insert("default".into(), pebble.clone());
    assert_eq!(effective(&settings, "le"), ("default".into(), pebble.clone()));
    let needs = needed(&[stack("shop", &[SHOP])]);
    let notes = unconfigured(&needs, &settings);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("`le` is not configured") && notes[0].contains("https://127.0.0.1:14000/dir"), "{notes:?}");
    let staging = AcmeResolver { directory: roost_certs::LETS_ENCRYPT_STAGING.into(), ..pebble };
    settings.resolvers.insert("le".into(), staging.clone());
    assert_eq!(effective(&settings, "le"), ("le".into(), staging));
    assert!(unconfigured(&needs, &settings).is_empty());
}

#[test]
fn the_plan_issues_what_is_missing_due_or_from_the_wrong_issuer_and_drops_unneeded_certificates_once_due() {
    let ca = IngressCa::generate().unwrap();
    let now = roost_certs::unix_now();
    let needs = Needs {
        hosts: BTreeMap::from([
            ("a.lan".into(), Want::Internal),
            ("b.lan".into(), Want::Internal),
            ("c.example.com".into(), acme("default")),
            ("d.example.com".into(), acme("default")),
        ]),
        problems: vec![],
    };
    let issue = |host: &str| ca.issue(&[host.to_owned()], now).unwrap();
    let from_le = |host: &str| StoredCert { issuer: Issuer::Acme { resolver: "default".into(), directory: LETS_ENCRYPT.into() }, ..issue(host) };
    let due = |c: StoredCert| StoredCert { not_before: now - 100, not_after: now + 10, ..c };
    let certs = BTreeMap::from([
        ("a.lan".into(), issue("a.lan")),                 // fine
        ("b.lan".into(), due(issue("b.lan"))),            // due for renewal
        ("c.example.com".into(), from_le("c.example.com")), // fine (Let's Encrypt by default)
        ("d.example.com".into(), issue("d.example.com")), // internal, but ACME is wanted
        ("old.lan".into(), issue("old.lan")),             // unneeded, still valid: kept
        ("gone.lan".into(), due(issue("gone.lan"))),      // unneeded and due: dropped
    ]);
    let mut settings = AcmeSettings::default();
    assert_eq!(
        plan(&needs, &certs, &settings, now),
        vec![
            Step::Issue { host: "b.lan".into(), want: Want::Internal },
            Step::Issue { host: "d.example.com".into(), want: acme("default") },
            Step::Drop { key: "gone.lan".into() },
        ]
    );
    // Another directory for the default resolver: its certificates are replaced.
    let other = AcmeResolver { directory: "https://ca.example.net/dir".into(), contact: vec![], root_ca_pem: None };
    settings.resolvers.insert("default".into(), other);
    let steps = plan(&needs, &certs, &settings, now);
    assert!(steps.contains(&Step::Issue { host: "c.example.com".into(), want: acme("default") }), "{steps:?}");
}

#[test]
fn failures_back_off_from_a_minute_doubling_to_an_hour_and_a_success_resets() {
    let mut b = Backoff::default();
    let t0 = Instant::now();
    assert!(b.ready("h", t0));
    let waits: Vec<u64> = (0..8).map(|_| b.failed("h", t0).as_secs()).collect();
    assert_eq!(waits, [60, 120, 240, 480, 960, 1920, 3600, 3600]);
    assert!(!b.ready("h", t0 + Duration::from_secs(3599)));
    assert!(b.ready("h", t0 + Duration::from_secs(3600)));
    assert!(b.ready("other", t0), "keys back off alone");
    b.succeeded("h");
    assert!(b.ready("h", t0));
    assert_eq!(b.failed("h", t0), RETRY_FIRST);
    b.clear();
    assert!(b.ready("h", t0));
}
