//! Validation against the official Compose JSON schema, with errors mapped back to the
//! YAML positions and phrased for humans. The schema is the single source of truth for
//! which keys exist, so roost never drifts from what `docker compose` accepts.

use crate::diag::{Diagnostic, Severity, Sources};
use crate::yaml::Node;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use std::sync::OnceLock;

/// The Compose specification schema (Apache-2.0, see `schema/README.md`).
pub const COMPOSE_SCHEMA: &str = include_str!("../schema/compose-spec.json");

fn validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: serde_json::Value = serde_json::from_str(COMPOSE_SCHEMA).expect("embedded schema is JSON");
        jsonschema::validator_for(&schema).expect("embedded schema compiles")
    })
}

/// The property names the schema allows on a service (for coverage tests).
pub fn service_properties() -> Vec<String> {
    let schema: serde_json::Value = serde_json::from_str(COMPOSE_SCHEMA).expect("schema");
    schema["definitions"]["service"]["properties"].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// Validates `root`; returns one error diagnostic per problem found.
pub(crate) fn validate(root: &Node, sources: &Sources) -> Vec<Diagnostic> {
    let json = root.to_json();
    let mut out = Vec::new();
    for err in validator().iter_errors(&json) {
        report(&err, root, sources, &mut out);
    }
    out.dedup_by(|a, b| a.line == b.line && a.column == b.column && a.message == b.message);
    out
}

fn segments(pointer: &str) -> Vec<String> {
    pointer.split('/').skip(1).map(|s| s.replace("~1", "/").replace("~0", "~")).collect()
}

/// Finds the node at a JSON pointer and its dotted path.
fn locate<'a>(root: &'a Node, segs: &[String]) -> (&'a Node, String) {
    let mut node = root;
    let mut path = String::new();
    for s in segs {
        let next = match &node.v {
            crate::yaml::Value::Map(_) => {
                let n = node.get(s);
                if n.is_some() {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(s);
                }
                n
            }
            crate::yaml::Value::Seq(items) => {
                let n = s.parse::<usize>().ok().and_then(|i| items.get(i));
                if n.is_some() {
                    path.push_str(&format!("[{s}]"));
                }
                n
            }
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    (node, path)
}

fn type_name(t: &str) -> &'static str {
    match t {
        "object" => "a mapping",
        "array" => "a list",
        "string" => "a string",
        "number" | "integer" => "a number",
        "boolean" => "a boolean",
        _ => "null",
    }
}

fn join_types(mut names: Vec<&'static str>) -> String {
    let order = ["a string", "a number", "a boolean", "a list", "a mapping", "null"];
    names.sort_by_key(|n| order.iter().position(|o| o == n));
    names.dedup();
    match names.len() {
        0 => "something else".into(),
        1 => names[0].into(),
        n => {
            // "a list or mapping": only the first type keeps its article.
            let bare: Vec<&str> = names.iter().map(|s| s.trim_start_matches("a ")).collect();
            format!("{} or {}", std::iter::once(names[0]).chain(bare[1..n - 1].iter().copied()).collect::<Vec<_>>().join(", "), bare[n - 1])
        }
    }
}

fn types_of(kind: &TypeKind) -> Vec<&'static str> {
    match kind {
        TypeKind::Single(t) => vec![type_name(t.as_str())],
        TypeKind::Multiple(set) => set.iter().map(|t| type_name(t.as_str())).collect(),
    }
}

fn report(err: &ValidationError<'_>, root: &Node, sources: &Sources, out: &mut Vec<Diagnostic>) {
    let segs = segments(err.instance_path().as_str());
    let (node, path) = locate(root, &segs);
    let key = if path.is_empty() { None } else { Some(path.as_str()) };
    let mut push = |pos, msg: String| out.push(sources.diag(Severity::Error, pos, key, msg));
    match err.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            for u in unexpected {
                let pos = node.key_of(u).map(|k| k.pos).unwrap_or(node.pos);
                push(pos, format!("unknown key `{u}`"));
            }
        }
        ValidationErrorKind::Type { kind } => {
            push(node.pos, format!("expected {}, found {}", join_types(types_of(kind)), node.kind_name()));
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            let here = err.instance_path().as_str();
            let mut expected = Vec::new();
            let mut candidates = Vec::new();
            for branch in context {
                let mut mismatched = false;
                for e in branch {
                    if e.instance_path().as_str() == here {
                        if let ValidationErrorKind::Type { kind } = e.kind() {
                            expected.extend(types_of(kind));
                            mismatched = true;
                        }
                    }
                }
                if !mismatched {
                    candidates.push(branch);
                }
            }
            match candidates.iter().min_by_key(|b| b.len()) {
                None => push(node.pos, format!("expected {}, found {}", join_types(expected), node.kind_name())),
                Some(branch) => {
                    for e in branch.iter() {
                        report(e, root, sources, out);
                    }
                }
            }
        }
        ValidationErrorKind::Enum { options } => {
            let opts: Vec<String> = options.as_array().map(|a| a.iter().map(|o| o.to_string().trim_matches('"').to_string()).collect()).unwrap_or_default();
            let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
            push(node.pos, crate::diag::unknown_value(&node.scalar().unwrap_or_default(), &opts));
        }
        ValidationErrorKind::Required { property } => {
            push(node.pos, format!("missing required key `{}`", property.as_str().unwrap_or_default()));
        }
        ValidationErrorKind::Pattern { pattern } => {
            push(node.pos, format!("invalid value `{}` (must match `{pattern}`)", node.scalar().unwrap_or_default()));
        }
        ValidationErrorKind::OneOfMultipleValid { .. } => push(node.pos, "ambiguous value: matches several allowed forms".into()),
        _ => push(node.pos, err.to_string()),
    }
}
