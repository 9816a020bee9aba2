//! The rule language and request matching.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A condition on a request. Host names compare case-insensitively and without a
/// port; path prefixes match whole segments or any continuation, as in Traefik
/// (`PathPrefix(`/api`)` matches `/api`, `/api/x` and `/apix`).
///
/// Stored and shown as its Traefik text (`Host(`a`) && PathPrefix(`/api`)`), so
/// `roost config` prints what the user wrote, in canonical form; the text parses
/// back to the same tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Rule {
    /// Any of the host names (Traefik's `Host(`a`, `b`)`).
    Host(Vec<String>),
    /// Any of the path prefixes.
    PathPrefix(Vec<String>),
    And(Box<Rule>, Box<Rule>),
    Or(Box<Rule>, Box<Rule>),
    Not(Box<Rule>),
}

impl Rule {
    /// Whether a request for `host` (as sent, maybe with `:port`) and `path` matches.
    pub fn matches(&self, host: &str, path: &str) -> bool {
        let host = host.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(h, _)| h);
        match self {
            Rule::Host(names) => names.iter().any(|n| n.eq_ignore_ascii_case(host)),
            Rule::PathPrefix(prefixes) => prefixes.iter().any(|p| path.starts_with(p.as_str())),
            Rule::And(a, b) => a.matches(host, path) && b.matches(host, path),
            Rule::Or(a, b) => a.matches(host, path) || b.matches(host, path),
            Rule::Not(a) => !a.matches(host, path),
        }
    }

    /// Traefik's default priority: the length of the rule's text, so more specific
    /// rules win. Here: the summed length of every host and prefix it names.
    pub fn priority(&self) -> usize {
        match self {
            Rule::Host(v) | Rule::PathPrefix(v) => v.iter().map(String::len).sum::<usize>() + 8,
            Rule::And(a, b) | Rule::Or(a, b) => a.priority() + b.priority(),
            Rule::Not(a) => a.priority(),
        }
    }
}

impl fmt::Display for Rule {
    /// Canonical Traefik text. Parentheses are written where the parser's precedence
    /// (`!` over `&&` over `||`, left-associative) would otherwise regroup the tree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn args(f: &mut fmt::Formatter<'_>, name: &str, v: &[String]) -> fmt::Result {
            write!(f, "{name}(")?;
            for (i, a) in v.iter().enumerate() {
                let sep = if i > 0 { ", " } else { "" };
                if a.contains('`') {
                    write!(f, "{sep}\"{}\"", a.replace('\\', "\\\\").replace('"', "\\\""))?;
                } else {
                    write!(f, "{sep}`{a}`")?;
                }
            }
            f.write_str(")")
        }
        fn wrapped(f: &mut fmt::Formatter<'_>, r: &Rule, parens: bool) -> fmt::Result {
            if parens {
                write!(f, "({r})")
            } else {
                write!(f, "{r}")
            }
        }
        match self {
            Rule::Host(v) => args(f, "Host", v),
            Rule::PathPrefix(v) => args(f, "PathPrefix", v),
            Rule::And(a, b) => {
                wrapped(f, a, matches!(**a, Rule::Or(..)))?;
                f.write_str(" && ")?;
                wrapped(f, b, matches!(**b, Rule::Or(..) | Rule::And(..)))
            }
            Rule::Or(a, b) => {
                wrapped(f, a, false)?;
                f.write_str(" || ")?;
                wrapped(f, b, matches!(**b, Rule::Or(..)))
            }
            Rule::Not(a) => {
                f.write_str("!")?;
                wrapped(f, a, matches!(**a, Rule::Or(..) | Rule::And(..)))
            }
        }
    }
}

impl std::str::FromStr for Rule {
    type Err = crate::ParseError;
    fn from_str(s: &str) -> Result<Rule, Self::Err> {
        crate::parse::parse(s)
    }
}

impl From<Rule> for String {
    fn from(r: Rule) -> String {
        r.to_string()
    }
}

impl TryFrom<String> for Rule {
    type Error = crate::ParseError;
    fn try_from(s: String) -> Result<Rule, Self::Error> {
        s.parse()
    }
}
