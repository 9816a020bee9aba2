//! The rule parser as data: rule text in, tree (in canonical text) or error out.
use expect_test::{expect, Expect};
use roost_routes::{parse, Rule};

/// One line per rule: `text  =>  canonical` or `text  =>  error`.
fn check(rules: &[&str], want: Expect) {
    let mut out = String::new();
    for r in rules {
        let got = match parse(r) {
            Ok(rule) => {
                let canonical = rule.to_string();
                assert_eq!(parse(&canonical).as_ref(), Ok(&rule), "{canonical} does not parse back to the same tree");
                canonical
            }
            Err(e) => format!("error: {e}"),
        };
        out.push_str(&format!("{r}  =>  {got}\n"));
    }
    want.assert_eq(&out);
}

#[test]
fn valid_rules_and_precedence() {
    check(
        &[
            "Host(`a.example.com`)",
            "Host(`a`, `b`)",
            "Host(\"a.example.com\")",
            "PathPrefix(`/api`)",
            "  Host( `a` ,\"b\" )&&PathPrefix(`/x`)  ",
            "Host(`a`) || Host(`b`) && PathPrefix(`/api`)",
            "(Host(`a`) || Host(`b`)) && PathPrefix(`/api`)",
            "Host(`a`) && (PathPrefix(`/x`) && PathPrefix(`/y`))",
            "!Host(`a`) && !(PathPrefix(`/x`) || PathPrefix(`/y`))",
            "!!Host(`a`)",
            "HostHeader(`a`)",
            "PathPrefix(\"/a`b\\\\c\\\"\")",
            "Host(`bücher.example`)",
        ],
        expect![[r#"
            Host(`a.example.com`)  =>  Host(`a.example.com`)
            Host(`a`, `b`)  =>  Host(`a`, `b`)
            Host("a.example.com")  =>  Host(`a.example.com`)
            PathPrefix(`/api`)  =>  PathPrefix(`/api`)
              Host( `a` ,"b" )&&PathPrefix(`/x`)    =>  Host(`a`, `b`) && PathPrefix(`/x`)
            Host(`a`) || Host(`b`) && PathPrefix(`/api`)  =>  Host(`a`) || Host(`b`) && PathPrefix(`/api`)
            (Host(`a`) || Host(`b`)) && PathPrefix(`/api`)  =>  (Host(`a`) || Host(`b`)) && PathPrefix(`/api`)
            Host(`a`) && (PathPrefix(`/x`) && PathPrefix(`/y`))  =>  Host(`a`) && (PathPrefix(`/x`) && PathPrefix(`/y`))
            !Host(`a`) && !(PathPrefix(`/x`) || PathPrefix(`/y`))  =>  !Host(`a`) && !(PathPrefix(`/x`) || PathPrefix(`/y`))
            !!Host(`a`)  =>  !!Host(`a`)
            HostHeader(`a`)  =>  Host(`a`)
            PathPrefix("/a`b\\c\"")  =>  PathPrefix("/a`b\\c\"")
            Host(`bücher.example`)  =>  Host(`bücher.example`)
        "#]],
    );
}

#[test]
fn and_binds_tighter_than_or() {
    let r = parse("Host(`a`) || Host(`b`) && PathPrefix(`/api`)").unwrap();
    let Rule::Or(left, right) = r else { panic!("{r:?}") };
    assert_eq!(*left, Rule::Host(vec!["a".into()]));
    assert!(matches!(*right, Rule::And(..)));
}

#[test]
fn errors_name_the_column_and_reason() {
    check(
        &[
            "",
            "   ",
            "Host(`a`))",
            "Host(`a`",
            "Host(`a` `b`)",
            "Host()",
            "Host(`a`,)",
            "Host(`a`) &&",
            "Host(`a`) & Host(`b`)",
            "Host(`a`) | Host(`b`)",
            "Host(`a`) Host(`b`)",
            "Host(`a)",
            "Host(\"a\\n\")",
            "HostRegexp(`{sub:[a-z]+}.example.com`)",
            "Host(`a`) && Path(`/x`)",
            "Headers(`X`, `y`) || Host(`a`)",
            "Method(`GET`)",
            "Query(`a=b`)",
            "ClientIP(`10.0.0.0/8`)",
            "HostSNI(`*`)",
            "Hots(`a`)",
            "Host(``)",
            "Host(`https://a.example.com`)",
            "Host(`a.example.com:8080`)",
            "Host(`*.example.com`)",
            "PathPrefix(`api`)",
            "PathPrefix(``)",
            "Host",
            "(Host(`a`)",
            "Host(`a`) && ()",
            "Host(a)",
            "Host(`a`) # comment",
        ],
        expect![[r#"
              =>  error: empty rule at column 1
                 =>  error: empty rule at column 1
            Host(`a`))  =>  error: unexpected `)` at column 10
            Host(`a`  =>  error: unexpected end of rule, expected `,` or `)` at column 9
            Host(`a` `b`)  =>  error: expected `,` or `)`, found `"b"` at column 10
            Host()  =>  error: Host needs at least one argument at column 6
            Host(`a`,)  =>  error: expected a quoted string, found `)` at column 10
            Host(`a`) &&  =>  error: unexpected end of rule, expected a matcher such as Host(`example.com`) at column 13
            Host(`a`) & Host(`b`)  =>  error: unexpected `&` at column 11
            Host(`a`) | Host(`b`)  =>  error: unexpected `|` at column 11
            Host(`a`) Host(`b`)  =>  error: unexpected `Host` at column 11
            Host(`a)  =>  error: unterminated string at column 6
            Host("a\n")  =>  error: unsupported escape `\n` (only \\ and \" are) at column 8
            HostRegexp(`{sub:[a-z]+}.example.com`)  =>  error: HostRegexp is not supported; use Host or PathPrefix at column 1
            Host(`a`) && Path(`/x`)  =>  error: Path is not supported; use Host or PathPrefix at column 14
            Headers(`X`, `y`) || Host(`a`)  =>  error: Headers is not supported; use Host or PathPrefix at column 1
            Method(`GET`)  =>  error: Method is not supported; use Host or PathPrefix at column 1
            Query(`a=b`)  =>  error: Query is not supported; use Host or PathPrefix at column 1
            ClientIP(`10.0.0.0/8`)  =>  error: ClientIP is not supported; use Host or PathPrefix at column 1
            HostSNI(`*`)  =>  error: HostSNI is not supported; use Host or PathPrefix at column 1
            Hots(`a`)  =>  error: unknown matcher `Hots`; use Host or PathPrefix at column 1
            Host(``)  =>  error: empty host at column 6
            Host(`https://a.example.com`)  =>  error: `https://a.example.com` is not a host name (no scheme, port, path or wildcard) at column 6
            Host(`a.example.com:8080`)  =>  error: `a.example.com:8080` is not a host name (no scheme, port, path or wildcard) at column 6
            Host(`*.example.com`)  =>  error: `*.example.com` is not a host name (no scheme, port, path or wildcard) at column 6
            PathPrefix(`api`)  =>  error: path prefix `api` must start with `/` at column 12
            PathPrefix(``)  =>  error: path prefix `` must start with `/` at column 12
            Host  =>  error: unexpected end of rule, expected `(` at column 5
            (Host(`a`)  =>  error: unexpected end of rule, expected `)` at column 11
            Host(`a`) && ()  =>  error: unexpected `)` at column 15
            Host(a)  =>  error: expected a quoted string, found `a` at column 6
            Host(`a`) # comment  =>  error: unexpected `#` at column 11
        "#]],
    );
}

#[test]
fn serde_uses_the_rule_text() {
    let r = parse("Host(`a`) && PathPrefix(`/api`)").unwrap();
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(json, r#""Host(`a`) && PathPrefix(`/api`)""#);
    assert_eq!(serde_json::from_str::<Rule>(&json).unwrap(), r);
    let bad = serde_json::from_str::<Rule>(r#""Path(`/`)""#).unwrap_err();
    assert!(bad.to_string().contains("Path is not supported"), "{bad}");
}
