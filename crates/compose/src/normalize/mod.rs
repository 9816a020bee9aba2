//! Turns the merged, validated tree into [`roost_spec::Stack`]: short syntax expanded,
//! defaults filled, paths made absolute. Whatever roost parses but cannot honour yet
//! becomes a warning naming the key and line, never a silent drop.

mod colocate;
mod deploy;
pub mod parse;
mod replication;
mod routes;
mod service;

use crate::diag::{Diagnostic, Pos, Severity, Sources};
use crate::yaml::{Node, Value};
use roost_spec::{FileObject, Network, Stack, Volume};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

pub use replication::VOLUME_X_ROOST_KEYS;
pub use routes::X_ROOST_KEYS;
pub use service::{HANDLED_KEYS, WARNED_KEYS};

pub(crate) struct Ctx<'a> {
    pub sources: &'a Sources,
    pub env: &'a BTreeMap<String, String>,
    pub project: String,
    pub diags: Vec<Diagnostic>,
    pub volumes: BTreeSet<String>,
    pub networks: BTreeSet<String>,
    pub secrets: BTreeSet<String>,
    pub configs: BTreeSet<String>,
    pub active: BTreeSet<String>,
    pub inactive: BTreeSet<String>,
    /// (service, route name) → where the route is defined and its key path, to place
    /// errors about routes of one file that clash.
    pub route_pos: BTreeMap<(String, String), (Pos, String)>,
}

impl Ctx<'_> {
    pub fn warn(&mut self, pos: Pos, path: &str, msg: impl Into<String>) {
        self.diags.push(self.sources.diag(Severity::Warning, pos, Some(path), msg));
    }
    pub fn err(&mut self, pos: Pos, path: &str, msg: impl Into<String>) {
        self.diags.push(self.sources.diag(Severity::Error, pos, Some(path), msg));
    }
    pub fn string(&mut self, n: &Node, path: &str) -> Option<String> {
        if n.is_null() {
            return None;
        }
        let s = n.scalar();
        if s.is_none() {
            self.err(n.pos, path, format!("expected a string, found {}", n.kind_name()));
        }
        s
    }
    /// A string that must be one of `allowed` (checked exactly, as Docker does): anything
    /// else is an error at the value naming it and the allowed ones, and gives `None`.
    pub fn choice(&mut self, n: &Node, path: &str, allowed: &[&str]) -> Option<String> {
        let s = self.string(n, path)?;
        if allowed.contains(&s.as_str()) {
            Some(s)
        } else {
            self.err(n.pos, path, crate::diag::unknown_value(&s, allowed));
            None
        }
    }
    pub fn bool(&mut self, n: &Node, path: &str) -> Option<bool> {
        match &n.v {
            Value::Bool(b) => Some(*b),
            Value::Null => None,
            _ => match n.scalar().as_deref() {
                Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Some(true),
                Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Some(false),
                _ => {
                    self.err(n.pos, path, format!("expected a boolean, found `{}`", n.scalar().unwrap_or_default()));
                    None
                }
            },
        }
    }
    pub fn int(&mut self, n: &Node, path: &str) -> Option<i64> {
        match &n.v {
            Value::Int(i) => Some(*i),
            Value::Null => None,
            _ => match n.scalar().and_then(|s| s.trim().parse::<i64>().ok()) {
                Some(i) => Some(i),
                None => {
                    self.err(n.pos, path, format!("expected an integer, found `{}`", n.scalar().unwrap_or_default()));
                    None
                }
            },
        }
    }
    pub fn uint(&mut self, n: &Node, path: &str) -> Option<u32> {
        let i = self.int(n, path)?;
        match u32::try_from(i) {
            Ok(u) => Some(u),
            Err(_) => {
                self.err(n.pos, path, format!("expected a non-negative integer, found {i}"));
                None
            }
        }
    }
    pub fn float(&mut self, n: &Node, path: &str) -> Option<f64> {
        match &n.v {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Null => None,
            _ => match n.scalar().and_then(|s| s.trim().parse::<f64>().ok()) {
                Some(f) => Some(f),
                None => {
                    self.err(n.pos, path, format!("expected a number, found `{}`", n.scalar().unwrap_or_default()));
                    None
                }
            },
        }
    }
    /// A string or a list of strings.
    pub fn strings(&mut self, n: &Node, path: &str) -> Vec<String> {
        match &n.v {
            Value::Seq(items) => items.iter().enumerate().filter_map(|(i, x)| self.string(x, &format!("{path}[{i}]"))).collect(),
            _ => self.string(n, path).into_iter().collect(),
        }
    }
    /// `list_or_dict`: `[K=V, K]` or `{K: V}`; `None` for a key without a value.
    pub fn dict(&mut self, n: &Node, path: &str) -> BTreeMap<String, Option<String>> {
        let mut out = BTreeMap::new();
        match &n.v {
            Value::Seq(items) => {
                for it in items {
                    if let Some(s) = it.scalar() {
                        match s.split_once('=') {
                            Some((k, v)) => out.insert(k.to_string(), Some(v.to_string())),
                            None => out.insert(s, None),
                        };
                    }
                }
            }
            Value::Map(m) => {
                for (k, v) in m {
                    out.insert(k.name.clone(), v.scalar());
                }
            }
            _ => {}
        }
        let _ = path;
        out
    }
    pub fn labels(&mut self, n: &Node, path: &str) -> BTreeMap<String, String> {
        self.dict(n, path).into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect()
    }
    pub fn duration(&mut self, n: &Node, path: &str) -> Option<std::time::Duration> {
        let s = self.string(n, path)?;
        parse::duration(&s).map_err(|e| self.err(n.pos, path, e)).ok()
    }
    pub fn size(&mut self, n: &Node, path: &str) -> Option<u64> {
        if let Value::Int(i) = n.v {
            return u64::try_from(i).ok();
        }
        let s = self.string(n, path)?;
        parse::size(&s).map_err(|e| self.err(n.pos, path, e)).ok()
    }
    /// Makes a host path absolute: `~` from HOME, relative against the node's file dir.
    pub fn host_path(&self, n: &Node, p: &str) -> String {
        let base = self.sources.base_dir(n.pos.src);
        let expanded = if p == "~" || p.starts_with("~/") {
            let home = self.env.get("HOME").cloned().unwrap_or_default();
            PathBuf::from(format!("{home}{}", &p[1..]))
        } else {
            PathBuf::from(p)
        };
        let abs = if expanded.is_absolute() { expanded } else { base.join(expanded) };
        clean(&abs).to_string_lossy().into_owned()
    }
}

/// Lexically removes `.` and `..` components.
pub fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// Compose's project-name normalization: lowercase, only `[a-z0-9_-]`.
pub fn normalize_name(s: &str) -> String {
    let n: String = s.to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
    n.trim_start_matches(['_', '-']).to_string()
}

fn top_objects(ctx: &mut Ctx<'_>, root: &Node, kind: &str) -> Vec<(String, Node)> {
    let _ = ctx;
    root.get(kind).map(|n| n.entries().iter().map(|(k, v)| (k.name.clone(), v.clone())).collect()).unwrap_or_default()
}

fn network_or_volume(ctx: &mut Ctx<'_>, n: &Node, path: &str, is_net: bool) -> (bool, Option<String>, Option<String>, BTreeMap<String, String>, bool, BTreeMap<String, String>) {
    let (mut ext, mut name, mut driver, mut opts, mut internal, mut labels) = (false, None, None, BTreeMap::new(), false, BTreeMap::new());
    for (k, v) in n.entries() {
        let p = format!("{path}.{}", k.name);
        match k.name.as_str() {
            "external" => match &v.v {
                Value::Map(_) => {
                    ext = true;
                    name = v.get("name").and_then(Node::scalar);
                }
                _ => ext = ctx.bool(v, &p).unwrap_or(false),
            },
            "name" => name = ctx.string(v, &p),
            "driver" => driver = ctx.string(v, &p),
            "driver_opts" => opts = ctx.labels(v, &p),
            "internal" if is_net => internal = ctx.bool(v, &p).unwrap_or(false),
            "labels" => labels = ctx.labels(v, &p),
            x if x.starts_with("x-") => {}
            x => ctx.warn(k.pos, &p, format!("`{x}` is not supported by roost yet and is ignored")),
        }
    }
    (ext, name, driver, opts, internal, labels)
}

fn file_object(ctx: &mut Ctx<'_>, n: &Node, path: &str) -> Option<FileObject> {
    let mut fo = FileObject { file: None, content: None };
    for (k, v) in n.entries() {
        let p = format!("{path}.{}", k.name);
        match k.name.as_str() {
            "file" => fo.file = ctx.string(v, &p).map(|f| ctx.host_path(v, &f)),
            "environment" => {
                let var = ctx.string(v, &p).unwrap_or_default();
                match ctx.env.get(&var) {
                    Some(val) => fo.content = Some(val.clone()),
                    None => ctx.err(v.pos, &p, format!("environment variable {var} is not set")),
                }
            }
            "content" => fo.content = ctx.string(v, &p),
            "external" if ctx.bool(v, &p) == Some(true) => {
                ctx.warn(k.pos, &p, "external secrets/configs are not supported by roost yet; ignored");
                return None;
            }
            x if x.starts_with("x-") => {}
            x => ctx.warn(k.pos, &p, format!("`{x}` is not supported by roost yet and is ignored")),
        }
    }
    Some(fo)
}

/// Builds the stack from a merged document whose services are already profile-filtered.
pub(crate) fn stack(ctx: &mut Ctx<'_>, root: &Node) -> Stack {
    let mut st = Stack { name: ctx.project.clone(), ..Stack::default() };
    let mut declared_nets = BTreeMap::new();
    for (name, n) in top_objects(ctx, root, "networks") {
        let (external, nm, driver, driver_opts, internal, labels) = network_or_volume(ctx, &n, &format!("networks.{name}"), true);
        declared_nets.insert(name.clone(), Network { external, name: nm, driver, driver_opts, internal, labels });
        ctx.networks.insert(name);
    }
    for (name, n) in top_objects(ctx, root, "volumes") {
        let (external, nm, driver, driver_opts, _, labels) = network_or_volume(ctx, &n, &format!("volumes.{name}"), false);
        let replication = match n.get("x-roost") {
            Some(x) => replication::parse(ctx, x, &format!("volumes.{name}.x-roost")),
            None => roost_spec::Replication::default(),
        };
        st.volumes.insert(name.clone(), Volume { external, name: nm, driver, driver_opts, labels, replication });
        ctx.volumes.insert(name);
    }
    for kind in ["secrets", "configs"] {
        for (name, n) in top_objects(ctx, root, kind) {
            if let Some(fo) = file_object(ctx, &n, &format!("{kind}.{name}")) {
                if kind == "secrets" {
                    ctx.secrets.insert(name.clone());
                    st.secrets.insert(name, fo);
                } else {
                    ctx.configs.insert(name.clone());
                    st.configs.insert(name, fo);
                }
            }
        }
    }
    if let Some(services) = root.get("services") {
        for (k, n) in services.entries() {
            if let Some(svc) = service::service(ctx, &k.name, n) {
                st.services.insert(k.name.clone(), svc);
            }
        }
    }
    routes::duplicates(ctx, &st);
    colocate::cycles(ctx, root, &st);
    for svc in st.services.values() {
        for net in svc.networks.keys() {
            let decl = declared_nets.get(net).cloned().unwrap_or_default();
            st.networks.insert(net.clone(), decl);
        }
    }
    st
}

#[allow(dead_code)]
fn _unused(_: Value) {}
