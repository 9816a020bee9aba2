//! The routing table the caller builds, and its compiled form the requests read.

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;

use roost_routes::Rule;

/// One replica a route can send requests to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// Where the replica listens (container IP or published port).
    pub addr: SocketAddr,
    /// Whether the caller considers it ready (Docker healthcheck passing, or no
    /// healthcheck and running). Unhealthy backends never get requests.
    pub healthy: bool,
}

/// A route: which requests it takes and where they go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRoute {
    /// `stack/service/router`: unique, used to order ties and in logs.
    pub id: String,
    /// Which requests match.
    pub rule: Rule,
    /// Served on the plain HTTP listener.
    pub http: bool,
    /// Served on the HTTPS listener.
    pub https: bool,
    /// The replicas, in any order.
    pub backends: Vec<Backend>,
}

/// Every route of the cluster; replaced whole by [`crate::Proxy::set_table`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// In any order: the proxy sorts them by priority.
    pub routes: Vec<ProxyRoute>,
}

/// Which listener a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// TLS.
    Https,
}

impl Scheme {
    /// The value for `X-Forwarded-Proto`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A route plus its round-robin position, which lives as long as this table does
/// (a swap restarts the rotation, which only shifts which backend goes first).
#[derive(Debug)]
pub(crate) struct Entry {
    pub route: ProxyRoute,
    pub next: AtomicUsize,
}

/// The table sorted once at swap time, so a request only scans it.
#[derive(Debug, Default)]
pub(crate) struct Compiled {
    entries: Vec<Entry>,
}

/// What the table says about a request.
#[derive(Debug)]
pub(crate) enum Lookup<'a> {
    Route(&'a Entry),
    /// Only an HTTPS route matches a plain-HTTP request: send the client there.
    RedirectToHttps,
    NotFound,
}

impl Compiled {
    pub fn new(table: Table) -> Self {
        let mut routes = table.routes;
        // Priority first (longer rules are more specific), then the id, so the
        // order never depends on the order the caller happened to list routes in.
        routes.sort_by(|a, b| {
            b.rule
                .priority()
                .cmp(&a.rule.priority())
                .then_with(|| a.id.cmp(&b.id))
        });
        let entries = routes
            .into_iter()
            .map(|route| Entry {
                route,
                next: AtomicUsize::new(0),
            })
            .collect();
        Compiled { entries }
    }

    /// The first route, by priority, that serves `scheme` and matches. Like
    /// Traefik's entry points, an HTTPS-only route does not shadow a lower HTTP
    /// route on the HTTP listener; it only redirects when nothing else matches.
    pub fn find(&self, scheme: Scheme, host: &str, path: &str) -> Lookup<'_> {
        let mut https_only = false;
        for entry in &self.entries {
            let r = &entry.route;
            if !r.rule.matches(host, path) {
                continue;
            }
            let serves = match scheme {
                Scheme::Http => r.http,
                Scheme::Https => r.https,
            };
            if serves {
                return Lookup::Route(entry);
            }
            https_only |= scheme == Scheme::Http && r.https;
        }
        if https_only {
            Lookup::RedirectToHttps
        } else {
            Lookup::NotFound
        }
    }

    pub fn backend_addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.entries
            .iter()
            .flat_map(|e| e.route.backends.iter().map(|b| b.addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(id: &str, rule: Rule, http: bool, https: bool) -> ProxyRoute {
        ProxyRoute {
            id: id.into(),
            rule,
            http,
            https,
            backends: vec![],
        }
    }

    fn found(l: Lookup<'_>) -> Option<&str> {
        match l {
            Lookup::Route(e) => Some(e.route.id.as_str()),
            _ => None,
        }
    }

    #[test]
    fn higher_priority_wins_and_ties_go_by_id() {
        let host = Rule::Host(vec!["a.test".into()]);
        let api = Rule::And(
            Box::new(host.clone()),
            Box::new(Rule::PathPrefix(vec!["/api".into()])),
        );
        let t = Compiled::new(Table {
            routes: vec![
                route("s/b/r", host.clone(), true, true),
                route("s/api/r", api, true, true),
                route("s/a/r", host, true, true),
            ],
        });
        assert_eq!(
            found(t.find(Scheme::Http, "a.test", "/api/x")),
            Some("s/api/r")
        );
        assert_eq!(
            found(t.find(Scheme::Http, "A.test:8080", "/")),
            Some("s/a/r")
        );
        assert!(matches!(
            t.find(Scheme::Http, "b.test", "/"),
            Lookup::NotFound
        ));
    }

    #[test]
    fn an_https_only_route_redirects_plain_http_unless_an_http_route_matches() {
        let host = Rule::Host(vec!["a.test".into()]);
        let t = Compiled::new(Table {
            routes: vec![route("s/a/r", host.clone(), false, true)],
        });
        assert!(matches!(
            t.find(Scheme::Http, "a.test", "/"),
            Lookup::RedirectToHttps
        ));
        assert_eq!(found(t.find(Scheme::Https, "a.test", "/")), Some("s/a/r"));
        let all = Rule::PathPrefix(vec!["/".into()]);
        let t = Compiled::new(Table {
            routes: vec![
                route("s/a/r", host, false, true),
                route("s/any/r", all, true, false),
            ],
        });
        assert_eq!(found(t.find(Scheme::Http, "a.test", "/")), Some("s/any/r"));
    }
}
