//! A route: which requests reach which container port of a service, and how TLS is
//! done. Stored in the spec (`roost_spec::Service::routes`), so it is plain serde data.

use crate::Rule;
use serde::{Deserialize, Serialize};

/// One way into a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The Traefik router name, or `x-roost-N` for the N-th (0-based) entry of
    /// `x-roost.routes`; unique within a service.
    pub name: String,
    pub rule: Rule,
    /// Target container port. `None` when the Compose file names no container port
    /// (no `ports:`/`expose:` and no explicit port): then the port is the single one
    /// the container exposes at run time (the image's `EXPOSE`), as Traefik does, and
    /// deploying fails if there are none or several. A file naming several ports must
    /// say which one, so that case is an error at load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub tls: Tls,
    pub entrypoints: Entrypoints,
    /// Where the route was defined (`compose.yaml:12:7`), for messages at deploy time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// How the proxy gets a certificate for a route served over HTTPS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// Plain HTTP only.
    Off,
    /// A certificate from an ACME issuer. `resolver` is the Traefik certresolver name,
    /// or `default` for roost's own form, so several ACME accounts can be told apart.
    Acme { resolver: String },
    /// A certificate signed by roost's own CA, for names no public CA will sign.
    Internal,
}

/// Name suffixes no public CA issues for (RFC 6761/8375 and common LAN practice).
const LOCAL_SUFFIXES: &[&str] = &[".lan", ".home.arpa", ".local", ".internal", ".test", ".localhost", ".example", ".invalid"];

/// The ACME resolver name used when roost, not a Traefik label, chooses ACME.
pub const DEFAULT_RESOLVER: &str = "default";

/// Whether `host` is a name only a private CA can certify: a local suffix, a name
/// without a dot (`nas`), or `localhost`.
pub fn is_local(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    !h.contains('.') || LOCAL_SUFFIXES.iter().any(|s| h.ends_with(s))
}

impl Tls {
    /// roost's default when TLS is wanted but not specified: `Internal` when every host
    /// is local (ACME would fail for them), else ACME with the default resolver.
    pub fn default_for(hosts: &[String]) -> Tls {
        if hosts.iter().all(|h| is_local(h)) {
            Tls::Internal
        } else {
            Tls::Acme { resolver: DEFAULT_RESOLVER.into() }
        }
    }
}

/// Which listeners serve the route: `http` is plain HTTP on port 80 (Traefik's `web`),
/// `https` is TLS on port 443 (`websecure`) with the route's [`Tls`]. A route with TLS
/// is not served in plain HTTP; redirecting port 80 is the proxy's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Entrypoints {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub http: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub https: bool,
}

impl Entrypoints {
    /// The listeners a route with `tls` is served on when nothing else is said.
    pub fn for_tls(tls: &Tls) -> Entrypoints {
        let on = *tls != Tls::Off;
        Entrypoints { http: !on, https: on }
    }
}

impl Rule {
    /// Every host name the rule mentions, in order, even under `!` (used to pick a
    /// TLS default and to find conflicts).
    pub fn hosts(&self) -> Vec<String> {
        match self {
            Rule::Host(v) => v.clone(),
            Rule::PathPrefix(_) => vec![],
            Rule::And(a, b) | Rule::Or(a, b) => [a.hosts(), b.hosts()].concat(),
            Rule::Not(a) => a.hosts(),
        }
    }
}
