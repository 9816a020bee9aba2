//! Bounded fuzzing of the Traefik rule parser: whatever the text, `parse` returns Ok or
//! Err and never panics or overflows the stack; what it accepts prints back to the
//! same tree and can be matched.
use proptest::prelude::*;
use roost_routes::parse;

const TOKENS: &[&str] = &[
    "Host(",
    "PathPrefix(",
    "HostHeader(",
    "Path(",
    "Foo(",
    "`",
    "`a.example.com`",
    "`/api`",
    "\"",
    "\"x\"",
    "\\",
    "\\\"",
    "&&",
    "||",
    "&",
    "|",
    "!",
    "(",
    ")",
    ",",
    " ",
    "\t",
    "a",
    "/",
    "é",
    "\u{0}",
    "`\u{1F600}`",
];

fn grammarish() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|v| v.concat())
}

/// Parses, and if accepted, exercises the tree the way callers do.
fn exercise(text: &str) {
    if let Ok(rule) = parse(text) {
        let canonical = rule.to_string();
        assert_eq!(
            parse(&canonical).as_ref(),
            Ok(&rule),
            "{text:?} -> {canonical:?} does not parse back"
        );
        let _ = rule.matches("a.example.com", "/api/x");
        let _ = rule.priority();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_rule_grammarish_never_panics(text in grammarish()) {
        exercise(&text);
    }

    #[test]
    fn fuzz_rule_random_text_never_panics(text in ".{0,80}") {
        exercise(&text);
    }

    #[test]
    fn fuzz_rule_random_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }
}

/// Deep nesting is refused with an error, not a stack overflow.
#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let host = "Host(`a`)";
    let cases = [
        format!("{}{host}{}", "(".repeat(10_000), ")".repeat(10_000)),
        format!("{}{host}", "!".repeat(10_000)),
        format!("{}{host}", "!(".repeat(5_000)),
        "(".repeat(10_000),
        "!".repeat(10_000),
    ];
    for text in &cases {
        let e = parse(text).expect_err("10 000 levels of nesting must be refused");
        assert!(e.to_string().contains("nested"), "{e}");
    }
    // Moderate nesting still parses.
    let ok = format!("{}{host}{}", "(".repeat(30), ")".repeat(30));
    assert!(parse(&ok).is_ok());
    let ok = format!("{}{host}", "!".repeat(30));
    assert!(parse(&ok).is_ok());
}

/// Long flat chains of `&&`/`||` build left-deep trees: before the depth limit,
/// 10 000 `Host(`a`)` joined by `&&` parsed and then overflowed the stack when printed
/// or dropped. Now refused; a chain of 50 still parses.
#[test]
fn long_operator_chains_do_not_overflow() {
    for op in [" && ", " || "] {
        let text = vec!["Host(`a`)"; 10_000].join(op);
        let e = parse(&text).expect_err("a 10 000-term chain must be refused");
        assert!(e.to_string().contains("nested"), "{e}");
        let text = vec!["Host(`a`)"; 50].join(op);
        exercise(&text);
        assert!(parse(&text).is_ok());
    }
}
