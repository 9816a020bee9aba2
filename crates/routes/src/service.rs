//! Reading a service's routes from its Traefik labels and its `x-roost.routes`.
//!
//! The reader knows nothing of YAML: findings name their [`Subject`] (a label key or a
//! path under `x-roost`) and the caller, which has the source positions, turns them
//! into located diagnostics. That keeps this crate pure and testable as data.

use crate::{traefik, xroost, Route};
use std::collections::BTreeMap;
use std::fmt;

/// One step of a path under `x-roost`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// What a finding or a route is about, in the service's definition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    /// A label, by key.
    Label(String),
    /// A node under the service's `x-roost` mapping; empty for `x-roost` itself.
    XRoost(Vec<Seg>),
}

impl fmt::Display for Subject {
    /// `labels.KEY` or `x-roost.routes[0].host`: the tail of the Compose key path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Label(k) => write!(f, "labels.{k}"),
            Subject::XRoost(path) => {
                f.write_str("x-roost")?;
                for s in path {
                    match s {
                        Seg::Key(k) => write!(f, ".{k}")?,
                        Seg::Index(i) => write!(f, "[{i}]")?,
                    }
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A problem with a service's route definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub subject: Subject,
    /// For a label: the byte offset in its value the problem is at (a rule's syntax
    /// error), so the caller can point at the exact column in the file.
    pub offset: Option<usize>,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = if self.severity == Severity::Error { "error" } else { "warning" };
        write!(f, "{sev}: {}: {}", self.subject, self.message)
    }
}

/// What the reader needs of a service.
#[derive(Debug, Clone, Copy)]
pub struct ServiceInput<'a> {
    /// Container labels, `labels:` over `deploy.labels` (Traefik reads either).
    pub labels: &'a BTreeMap<String, String>,
    /// The service's `x-roost` value, as JSON.
    pub x_roost: Option<&'a serde_json::Value>,
    /// The distinct TCP container ports the Compose file names (`ports:` targets and
    /// `expose:`), to default a route's port.
    pub ports: &'a [u16],
}

/// The routes of one service, and what was wrong or ignored on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FromService {
    /// Each route with what defined it (its rule label, or its `x-roost.routes[N]`
    /// entry), so the caller can fill [`Route::origin`] from its source positions.
    pub routes: Vec<(Subject, Route)>,
    pub findings: Vec<Finding>,
}

impl FromService {
    pub(crate) fn warn(&mut self, subject: Subject, message: impl Into<String>) {
        self.findings.push(Finding { severity: Severity::Warning, subject, offset: None, message: message.into() });
    }
    pub(crate) fn err(&mut self, subject: Subject, message: impl Into<String>) {
        self.findings.push(Finding { severity: Severity::Error, subject, offset: None, message: message.into() });
    }
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Reads the routes of one service: Traefik routers first (sorted by name), then the
/// `x-roost.routes` entries in order. Routes with errors are left out; `origin` is
/// left `None` for the caller, which knows positions.
pub fn from_service(input: &ServiceInput<'_>) -> FromService {
    let mut out = FromService::default();
    traefik::read(input, &mut out);
    xroost::read(input, &mut out);
    out
}

/// The port a route targets when `given` is not set: the one port the file names, or
/// `None` (decided at run time from the image) when it names none.
///
/// # Errors
/// A message when the file names several ports and `given` does not choose.
pub(crate) fn port(given: Option<u16>, ports: &[u16], how: &str) -> Result<Option<u16>, String> {
    match (given, ports) {
        (Some(p), _) => Ok(Some(p)),
        (None, []) => Ok(None),
        (None, [p]) => Ok(Some(*p)),
        (None, many) => {
            let list: Vec<String> = many.iter().map(u16::to_string).collect();
            Err(format!("the service has several container ports ({}): say which one with {how}", list.join(", ")))
        }
    }
}
