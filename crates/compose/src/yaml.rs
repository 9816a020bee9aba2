//! A YAML tree that remembers where every key and value came from.
//!
//! Approach: we drive the event parser `granit-parser` (re-exported by `serde-saphyr` as
//! `serde_saphyr::granit_parser`, the parser serde-saphyr itself is built on) and build our
//! own spanned node tree. serde-saphyr's `Spanned<T>` gives spans for typed structs, but
//! Compose needs a *generic* tree first (interpolation, schema validation and merging all
//! happen before any typing) and every later error must still point at file:line:column.
//! Owning the tree also lets us resolve plain scalars with YAML 1.2 core rules exactly as
//! `docker compose` (go-yaml v3) does: `no` stays a string, `0440` is octal.
//!
//! Anchors and aliases are expanded while building (an alias is a copy of the anchored
//! node, keeping the anchor's positions); merge keys (`<<: *x` or `<<: [*a, *b]`) are
//! applied at the end of each mapping, explicit keys winning.

use crate::diag::Pos;
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, ScanError};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub v: Value,
    pub pos: Pos,
}

/// A YAML syntax problem at a position.
#[derive(Debug)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

impl Node {
    pub fn new(v: Value, pos: Pos) -> Node {
        Node { v, pos }
    }
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.v {
            Value::Map(m) => m.iter().find(|(k, _)| k.name == key).map(|(_, n)| n),
            _ => None,
        }
    }
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.v {
            Value::Map(m) => m.iter_mut().find(|(k, _)| k.name == key).map(|(_, n)| n),
            _ => None,
        }
    }
    pub fn key_of(&self, key: &str) -> Option<&Key> {
        match &self.v {
            Value::Map(m) => m.iter().find(|(k, _)| k.name == key).map(|(k, _)| k),
            _ => None,
        }
    }
    pub fn entries(&self) -> &[(Key, Node)] {
        match &self.v {
            Value::Map(m) => m,
            _ => &[],
        }
    }
    pub fn items(&self) -> &[Node] {
        match &self.v {
            Value::Seq(s) => s,
            _ => &[],
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self.v, Value::Null)
    }
    /// Scalar as text (numbers and booleans formatted as YAML wrote them semantically).
    pub fn scalar(&self) -> Option<String> {
        match &self.v {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    /// Human name of the node's kind for error messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.v {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.v {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or_else(|| J::String(f.to_string())),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(s) => J::Array(s.iter().map(Node::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.name.clone(), v.to_json())).collect()),
        }
    }
}

enum Frame {
    Seq { items: Vec<Node>, pos: Pos, anchor: usize },
    Map { entries: Vec<(Key, Node)>, pos: Pos, anchor: usize, key: Option<Key>, merges: Vec<Node> },
}

/// How many nodes aliases may copy in one document, all aliases together. Anchors and
/// aliases are expanded by copying, so without a bound a few lines (anchors aliasing
/// anchors, "billion laughs") would expand to billions of nodes. Real Compose files copy
/// a few hundred at most.
const MAX_ALIAS_NODES: usize = 100_000;
/// How many bytes of scalars and keys aliases may copy in one document.
const MAX_ALIAS_BYTES: usize = 16 << 20;

/// Nodes and scalar/key bytes in a tree.
fn size_of(n: &Node) -> (usize, usize) {
    match &n.v {
        Value::Str(s) => (1, s.len()),
        Value::Seq(items) => items.iter().map(size_of).fold((1, 0), |a, b| (a.0 + b.0, a.1 + b.1)),
        Value::Map(entries) => entries.iter().fold((1, 0), |a, (k, v)| {
            let b = size_of(v);
            (a.0 + b.0 + 1, a.1 + b.1 + k.name.len())
        }),
        _ => (1, 0),
    }
}

fn pos_of(src: usize, m: &serde_saphyr::granit_parser::Marker) -> Pos {
    Pos { src, line: m.line(), col: m.col() + 1 }
}

fn scan_err(src: usize, e: &ScanError) -> SyntaxError {
    SyntaxError { pos: pos_of(src, e.marker()), message: e.info() }
}

/// Parses the first document of `text`. An empty document gives a `Null` node.
///
/// # Errors
/// A [`SyntaxError`] for malformed YAML, undefined aliases, duplicate keys or bad merges.
pub fn parse(src: usize, text: &str) -> Result<Node, SyntaxError> {
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let (mut alias_nodes, mut alias_bytes) = (0usize, 0usize);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    for ev in Parser::new_from_str(text) {
        let (ev, span) = ev.map_err(|e| scan_err(src, &e))?;
        let pos = pos_of(src, &span.start);
        let done = match ev {
            Event::DocumentEnd => break,
            Event::Scalar(s, style, anchor, tag) => {
                let forced_str = tag.as_ref().is_some_and(|t| t.suffix() == "str");
                let merge = style == ScalarStyle::Plain && s == "<<";
                let v = if style == ScalarStyle::Plain && !forced_str { resolve_plain(&s) } else { Value::Str(s.into_owned()) };
                let n = Node::new(v, pos);
                if anchor != 0 {
                    anchors.insert(anchor, n.clone());
                }
                Some((n, merge))
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(n) => {
                    let (nodes, bytes) = size_of(n);
                    alias_nodes += nodes;
                    alias_bytes += bytes;
                    if alias_nodes > MAX_ALIAS_NODES || alias_bytes > MAX_ALIAS_BYTES {
                        return Err(SyntaxError {
                            pos,
                            message: format!(
                                "aliases expand to more than {MAX_ALIAS_NODES} nodes or {} MiB (anchors aliasing anchors?); refusing to expand",
                                MAX_ALIAS_BYTES >> 20
                            ),
                        });
                    }
                    Some((n.clone(), false))
                }
                None => return Err(SyntaxError { pos, message: "alias to an unknown anchor".into() }),
            },
            Event::SequenceStart(_, anchor, _) => {
                stack.push(Frame::Seq { items: vec![], pos, anchor });
                None
            }
            Event::MappingStart(_, anchor, _) => {
                stack.push(Frame::Map { entries: vec![], pos, anchor, key: None, merges: vec![] });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { items, pos, anchor }) => {
                    let n = Node::new(Value::Seq(items), pos);
                    if anchor != 0 {
                        anchors.insert(anchor, n.clone());
                    }
                    Some((n, false))
                }
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map { mut entries, pos, anchor, merges, .. }) => {
                    for m in merges {
                        let maps: Vec<Node> = match m.v {
                            Value::Map(_) => vec![m],
                            Value::Seq(items) => items,
                            _ => vec![m],
                        };
                        for mm in maps {
                            let Value::Map(me) = mm.v else {
                                return Err(SyntaxError { pos: mm.pos, message: "merge key `<<` expects a mapping or a list of mappings".into() });
                            };
                            for (k, v) in me {
                                if !entries.iter().any(|(ek, _)| ek.name == k.name) {
                                    entries.push((k, v));
                                }
                            }
                        }
                    }
                    let n = Node::new(Value::Map(entries), pos);
                    if anchor != 0 {
                        anchors.insert(anchor, n.clone());
                    }
                    Some((n, false))
                }
                _ => None,
            },
            _ => None,
        };
        let Some((node, is_merge_key)) = done else { continue };
        match stack.last_mut() {
            None => {
                if root.is_none() {
                    root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, merges, .. }) => match key.take() {
                None => {
                    let name = match &node.v {
                        _ if is_merge_key => "<<".to_string(),
                        Value::Null => String::new(),
                        v => match node.scalar() {
                            Some(s) => s,
                            None => {
                                let _ = v;
                                return Err(SyntaxError { pos: node.pos, message: "complex mapping keys are not supported".into() });
                            }
                        },
                    };
                    if name != "<<" {
                        if let Some((prev, _)) = entries.iter().find(|(k, _)| k.name == name) {
                            return Err(SyntaxError {
                                pos: node.pos,
                                message: format!("mapping key `{name}` already defined at line {}", prev.line()),
                            });
                        }
                    }
                    *key = Some(Key { name, pos: node.pos });
                }
                Some(k) if k.name == "<<" && is_merge_key_marker(&k) => merges.push(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
    Ok(root.unwrap_or(Node::new(Value::Null, Pos { src, line: 1, col: 1 })))
}

// A `<<` key is treated as a merge key; quoting it is rare enough not to track.
fn is_merge_key_marker(_k: &Key) -> bool {
    true
}

impl Key {
    fn line(&self) -> usize {
        self.pos.line
    }
}

/// YAML 1.2 core schema resolution of a plain scalar, with go-yaml's octal `0755`.
pub fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let (neg, digits) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let int = if let Some(h) = digits.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = digits.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit()) {
        i64::from_str_radix(&digits[1..], 8).ok()
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Value::Int(if neg { -i } else { i });
    }
    if is_float(digits) {
        if let Ok(f) = s.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str(s.to_string())
}

fn is_float(s: &str) -> bool {
    let (mant, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mant_ok = match mant.split_once('.') {
        Some((a, b)) => a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit()) && !(a.is_empty() && b.is_empty()),
        None => !mant.is_empty() && mant.bytes().all(|c| c.is_ascii_digit()),
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit())
    });
    mant_ok && exp_ok && (mant.contains('.') || exp.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_merge_and_positions() {
        let n = parse(0, "x: &b\n  a: 1\n  b: no\ny:\n  <<: *b\n  b: '2'\n").unwrap();
        let y = n.get("y").unwrap();
        assert_eq!(y.get("a").unwrap().v, Value::Int(1));
        assert_eq!(y.get("b").unwrap().v, Value::Str("2".into()));
        assert_eq!(n.get("x").unwrap().get("b").unwrap().v, Value::Str("no".into()));
        assert_eq!(y.get("b").unwrap().pos.line, 6);
        assert_eq!(y.get("b").unwrap().pos.col, 6);
    }

    #[test]
    fn plain_scalars() {
        assert_eq!(resolve_plain("0440"), Value::Int(0o440));
        assert_eq!(resolve_plain("1.5"), Value::Float(1.5));
        assert_eq!(resolve_plain("8080:80"), Value::Str("8080:80".into()));
        assert_eq!(resolve_plain("1e3"), Value::Float(1000.0));
        assert_eq!(resolve_plain("1.0.0"), Value::Str("1.0.0".into()));
    }
}
