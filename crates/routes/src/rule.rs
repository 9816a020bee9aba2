//! The rule language and request matching.

use serde::{Deserialize, Serialize};

/// A condition on a request. Host names compare case-insensitively and without a
/// port; path prefixes match whole segments or any continuation, as in Traefik
/// (`PathPrefix(`/api`)` matches `/api`, `/api/x` and `/apix`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
