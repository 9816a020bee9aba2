//! `${VAR}` interpolation, done by roost on scalar *values* after parsing, as Compose
//! does: keys are never interpolated and YAML structure cannot be injected by a variable.

use crate::diag::{Severity, Sources, Diagnostic};
use crate::yaml::{Node, Value};
use std::collections::BTreeMap;

/// Why a template could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpError {
    #[error("required variable {name} is missing a value{}", if .message.is_empty() { String::new() } else { format!(": {}", .message) })]
    Required { name: String, message: String },
    #[error("invalid interpolation format in `{0}`: write a literal `$` as `$$`")]
    Invalid(String),
    #[error("interpolation nested more than {0} levels deep (`${{A:-${{B:-...}}}}`)")]
    TooDeep(usize),
}

/// How deep `${A:-${B:-...}}` defaults may nest: the expansion recurses once per level,
/// so a hostile value must not run it off the end of the stack. Real files use one or two.
pub const MAX_DEPTH: usize = 32;

/// Result of expanding one string.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expanded {
    pub value: String,
    /// Variables referenced without a default and unset.
    pub unset: Vec<String>,
}

/// Expands `s` with `lookup`.
///
/// # Errors
/// [`InterpError::Required`] for `${X:?msg}`/`${X?msg}` on a missing variable,
/// [`InterpError::Invalid`] for a malformed `${` or a lone `$`.
pub fn expand(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Expanded, InterpError> {
    let mut out = Expanded::default();
    expand_into(s, lookup, &mut out, 0)?;
    Ok(out)
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}
fn is_name_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

fn expand_into(s: &str, lookup: &dyn Fn(&str) -> Option<String>, out: &mut Expanded, depth: usize) -> Result<(), InterpError> {
    if depth > MAX_DEPTH {
        return Err(InterpError::TooDeep(MAX_DEPTH));
    }
    let invalid = || InterpError::Invalid(s.to_string());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.value.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let mut chars = after.chars();
        match chars.next() {
            Some('$') => {
                out.value.push('$');
                rest = &after[1..];
            }
            Some('{') => {
                let body_start = &after[1..];
                let end = matching_brace(body_start).ok_or_else(invalid)?;
                let body = &body_start[..end];
                expand_braced(body, lookup, out, depth).map_err(|e| match e {
                    InterpError::Invalid(_) => invalid(),
                    e => e,
                })?;
                rest = &body_start[end + 1..];
            }
            Some(c) if is_name_start(c) => {
                let len = after.find(|c: char| !is_name_char(c)).unwrap_or(after.len());
                let name = &after[..len];
                match lookup(name) {
                    Some(v) => out.value.push_str(&v),
                    None => out.unset.push(name.to_string()),
                }
                rest = &after[len..];
            }
            _ => return Err(invalid()),
        }
    }
    out.value.push_str(rest);
    Ok(())
}

/// Index of the `}` closing a `${` whose body starts at `s`, skipping nested `${...}`.
fn matching_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn expand_braced(body: &str, lookup: &dyn Fn(&str) -> Option<String>, out: &mut Expanded, depth: usize) -> Result<(), InterpError> {
    let len = body.find(|c: char| !is_name_char(c)).unwrap_or(body.len());
    let name = &body[..len];
    if name.is_empty() || !name.starts_with(is_name_start) {
        return Err(InterpError::Invalid(body.to_string()));
    }
    let op = &body[len..];
    let val = lookup(name);
    let (colon, op) = match op.strip_prefix(':') {
        Some(o) => (true, o),
        None => (false, op),
    };
    // With `:` an empty value counts as unset.
    let set = match &val {
        Some(v) => !(colon && v.is_empty()),
        None => false,
    };
    let word = |w: &str, out: &mut Expanded| expand_into(w, lookup, out, depth + 1);
    match op.chars().next() {
        None if !colon => match val {
            Some(v) => out.value.push_str(&v),
            None => out.unset.push(name.to_string()),
        },
        Some('-') => {
            if set {
                out.value.push_str(val.as_deref().unwrap_or(""));
            } else {
                word(&op[1..], out)?;
            }
        }
        Some('+') => {
            if set {
                word(&op[1..], out)?;
            }
        }
        Some('?') => {
            if set {
                out.value.push_str(val.as_deref().unwrap_or(""));
            } else {
                let mut msg = Expanded::default();
                expand_into(&op[1..], lookup, &mut msg, depth + 1)?;
                return Err(InterpError::Required { name: name.to_string(), message: msg.value });
            }
        }
        _ => return Err(InterpError::Invalid(body.to_string())),
    }
    Ok(())
}

/// Interpolates every string scalar under `node` in place. Errors and unset-variable
/// warnings go to `diags`, each at the value's position.
pub(crate) fn interpolate_tree(node: &mut Node, path: &str, env: &BTreeMap<String, String>, sources: &Sources, diags: &mut Vec<Diagnostic>) {
    match &mut node.v {
        Value::Str(s) if s.contains('$') => {
            let lookup = |n: &str| env.get(n).cloned();
            match expand(s, &lookup) {
                Ok(e) => {
                    for name in e.unset {
                        diags.push(sources.diag(Severity::Warning, node.pos, Some(path), format!("variable {name} is not set, defaulting to a blank string")));
                    }
                    *s = e.value;
                }
                Err(e) => diags.push(sources.diag(Severity::Error, node.pos, Some(path), e.to_string())),
            }
        }
        Value::Seq(items) => {
            for (i, n) in items.iter_mut().enumerate() {
                interpolate_tree(n, &format!("{path}[{i}]"), env, sources, diags);
            }
        }
        Value::Map(entries) => {
            for (k, n) in entries.iter_mut() {
                let p = if path.is_empty() { k.name.clone() } else { format!("{path}.{}", k.name) };
                interpolate_tree(n, &p, env, sources, diags);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> Result<Expanded, InterpError> {
        let env: BTreeMap<&str, &str> = [("A", "a"), ("E", ""), ("B", "b")].into_iter().collect();
        expand(s, &|n| env.get(n).map(|v| v.to_string()))
    }

    #[test]
    fn table() {
        let ok = |s: &str, want: &str| assert_eq!(run(s).unwrap().value, want, "input {s}");
        ok("$A", "a");
        ok("x${A}y", "xay");
        ok("$A-$B", "a-b");
        ok("${U:-d}", "d");
        ok("${E:-d}", "d");
        ok("${E-d}", "");
        ok("${U-d}", "d");
        ok("${A:+alt}", "alt");
        ok("${E:+alt}", "");
        ok("${E+alt}", "alt");
        ok("${U+alt}", "");
        ok("$$A", "$A");
        ok("$${A}", "${A}");
        ok("${U:-${B}}", "b");
        ok("${U:-${V:-deep}}", "deep");
        ok("${A:?boom}", "a");
        ok("plain", "plain");
        assert_eq!(run("${U}").unwrap().unset, vec!["U".to_string()]);
        assert_eq!(run("$U and ${U:-x}").unwrap().unset, vec!["U".to_string()]);
        assert_eq!(run("${U:?need it}"), Err(InterpError::Required { name: "U".into(), message: "need it".into() }));
        assert_eq!(run("${E:?}"), Err(InterpError::Required { name: "E".into(), message: String::new() }));
        assert!(run("${E?}").is_ok());
        assert!(matches!(run("${A"), Err(InterpError::Invalid(_))));
        assert!(matches!(run("a $ b"), Err(InterpError::Invalid(_))));
        assert!(matches!(run("${A:x}"), Err(InterpError::Invalid(_))));
    }

    /// Found by fuzzing: 20 000 nested `${U:-` defaults overflowed the stack.
    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}x{}", "${U:-".repeat(20_000), "}".repeat(20_000));
        assert_eq!(run(&deep), Err(InterpError::TooDeep(MAX_DEPTH)));
        let ok = format!("{}x{}", "${U:-".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
        assert_eq!(run(&ok).unwrap().value, "x");
    }
}
