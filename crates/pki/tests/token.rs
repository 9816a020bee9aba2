//! Join token generation, printing, parsing and secret checking.

use roost_pki::{secret_matches, ClusterCa, JoinToken, TokenError};

fn fp() -> String {
    "0123456789abcdef".repeat(4)
}

#[test]
fn generate_display_parse_roundtrip() {
    let ca = ClusterCa::generate("c1").unwrap();
    let token = JoinToken::generate(&ca.fingerprint());
    let text = token.to_string();
    assert!(text.starts_with("ROOST1-"), "{text}");
    assert_eq!(text.len(), "ROOST1-".len() + 64 + 1 + 32);
    assert_eq!(JoinToken::parse(&text).unwrap(), token);
    assert_eq!(token.ca_fingerprint, ca.fingerprint());
    assert!(token
        .secret
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
}

#[test]
fn generated_secrets_differ() {
    assert_ne!(
        JoinToken::generate(&fp()).secret,
        JoinToken::generate(&fp()).secret
    );
}

#[test]
fn parse_tolerates_whitespace_and_upper_case_hex() {
    let token = JoinToken::generate(&fp());
    let shouted = format!(
        "  ROOST1-{}-{}\n",
        token.ca_fingerprint.to_uppercase(),
        token.secret.to_uppercase()
    );
    assert_eq!(JoinToken::parse(&shouted).unwrap(), token);
}

#[test]
fn parse_errors_say_what_is_wrong() {
    let secret = "a".repeat(32);
    let cases: Vec<(String, TokenError)> = vec![
        ("".into(), TokenError::Empty),
        ("hello world".into(), TokenError::NotAToken),
        (format!("SWMTKN-1-{}-{secret}", fp()), TokenError::NotAToken),
        (
            format!("ROOST2-{}-{secret}", fp()),
            TokenError::Version("ROOST2".into()),
        ),
        (
            "ROOS".into(),
            TokenError::Truncated("it ends inside the ROOST1- prefix".into()),
        ),
        (
            format!("ROOST1-{}", &fp()[..40]),
            TokenError::Truncated("the CA fingerprint has 40 of 64 characters".into()),
        ),
        (
            format!("ROOST1-{}", fp()),
            TokenError::Truncated("the secret after the CA fingerprint is missing".into()),
        ),
        (
            format!("ROOST1-{}-{}", fp(), &secret[..10]),
            TokenError::Truncated("the secret has 10 of 32 characters".into()),
        ),
        (
            format!("ROOST1-{}x-{secret}", &fp()[..63]),
            TokenError::BadHex("CA fingerprint"),
        ),
        (
            format!("ROOST1-{}-{}g", fp(), &secret[..31]),
            TokenError::BadHex("secret"),
        ),
        (
            format!("ROOST1-{}-{secret}-extra", fp()),
            TokenError::Malformed("it has more than three '-' separated parts"),
        ),
        (
            format!("ROOST1-{}-{secret}a", fp()),
            TokenError::Malformed("the secret is longer than 32 characters"),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(JoinToken::parse(&input), Err(expected), "input {input:?}");
    }
}

#[test]
fn error_messages_are_readable() {
    assert_eq!(
        JoinToken::parse("nope").unwrap_err().to_string(),
        "not a roost join token (expected ROOST1-<CA fingerprint>-<secret>)"
    );
    assert_eq!(
        JoinToken::parse(&format!("ROOST1-{}-abc", fp()))
            .unwrap_err()
            .to_string(),
        "join token is truncated: the secret has 3 of 32 characters"
    );
    assert_eq!(
        JoinToken::parse(&format!("ROOST1-{}-{}", fp(), "z".repeat(32)))
            .unwrap_err()
            .to_string(),
        "join token's secret is not hexadecimal"
    );
}

#[test]
fn secret_matches_only_the_right_secret() {
    let token = JoinToken::generate(&fp());
    let stored = token.secret_hash();
    assert_eq!(stored.len(), 64);
    assert!(secret_matches(&token.secret, &stored));
    assert!(secret_matches(
        &token.secret.to_uppercase(),
        &stored.to_uppercase()
    ));
    let other = JoinToken::generate(&fp());
    assert!(!secret_matches(&other.secret, &stored));
    assert!(!secret_matches(&token.secret, &stored[..63]));
    assert!(!secret_matches(&token.secret, ""));
    assert!(!secret_matches("", &stored));
}

#[test]
fn debug_hides_the_secret() {
    let token = JoinToken::generate(&fp());
    let debug = format!("{token:?}");
    assert!(!debug.contains(&token.secret), "{debug}");
    assert!(debug.contains(&token.ca_fingerprint));
}
