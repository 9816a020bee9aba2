//! Bounded fuzzing of the join token parser: any text gives Ok or Err, never a panic;
//! an accepted token prints back to itself.
use proptest::prelude::*;
use roost_pki::JoinToken;

fn exercise(text: &str) {
    if let Ok(t) = JoinToken::parse(text) {
        let shown = t.to_string();
        assert_eq!(JoinToken::parse(&shown).as_ref(), Ok(&t), "{text:?} -> {shown:?}");
        assert_eq!(t.ca_fingerprint.len(), 64);
        assert_eq!(t.secret.len(), 32);
    }
}

const PARTS: &[&str] = &[
    "ROOST1-",
    "ROOST",
    "ROOST2-",
    "ROOST99999999999999999999-",
    "-",
    "--",
    "a",
    "F",
    "0123456789abcdef",
    "0123456789ABCDEF0123456789abcdef",
    " ",
    "\t",
    "\n",
    "é",
    "\u{0}",
    "\u{1F600}",
    "g",
    "ROOST1",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 10000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_token_random_text_never_panics(text in ".{0,120}") {
        exercise(&text);
    }

    #[test]
    fn fuzz_token_pieces_never_panic(parts in prop::collection::vec(prop::sample::select(PARTS), 0..16)) {
        exercise(&parts.concat());
    }

    #[test]
    fn fuzz_token_mutated_valid_token_never_panics(
        pos in 0usize..200, byte in any::<u8>(), cut in 0usize..200, upper in any::<bool>(),
    ) {
        let good = JoinToken::generate(&"ab".repeat(32)).to_string();
        let mut bytes = good.into_bytes();
        let p = pos % bytes.len();
        bytes[p] ^= byte;
        bytes.truncate(cut.max(1));
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if upper {
            text = text.to_uppercase();
        }
        exercise(&text);
    }
}
