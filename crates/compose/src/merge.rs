//! Compose's merge rules for `-f a.yaml -f b.yaml` and `extends:`: mappings merge key by
//! key, scalars and `command`/`entrypoint`/`healthcheck.test` are replaced, list-or-dict
//! keys (`environment`, `labels`, ...) merge by variable name, and sequences append with
//! Compose's uniqueness (ports by whole spec, volumes by target, secrets by target).
//! Done on the spanned tree so merged values keep pointing at the file that set them.

use crate::yaml::{Key, Node, Value};

/// Merges `over` onto `base` (both whole Compose documents or service mappings).
pub fn merge(base: Node, over: Node, path: &[&str]) -> Node {
    let special = path_kind(path);
    match special {
        Kind::Override => return over,
        Kind::Dict => return merge(to_dict(base, path), to_dict(over, path), &[]),
        _ => {}
    }
    match (base.v, over.v) {
        (Value::Map(mut b), Value::Map(o)) => {
            for (k, v) in o {
                match b.iter_mut().find(|(bk, _)| bk.name == k.name) {
                    Some((_, bv)) => {
                        let mut p = path.to_vec();
                        p.push(&k.name);
                        let old = std::mem::replace(bv, Node::new(Value::Null, v.pos));
                        *bv = merge(old, v, &p);
                    }
                    None => b.push((k, v)),
                }
            }
            Node::new(Value::Map(b), base.pos)
        }
        (Value::Seq(mut b), Value::Seq(o)) => {
            for item in o {
                let id = identity(&special, &item);
                match id.as_ref().and_then(|id| b.iter().position(|x| identity(&special, x).as_ref() == Some(id))) {
                    Some(i) => b[i] = item,
                    None => b.push(item),
                }
            }
            Node::new(Value::Seq(b), base.pos)
        }
        (bv, Value::Null) if matches!(path.len(), 1 | 2) => Node::new(bv, base.pos),
        (_, ov) => Node::new(ov, over.pos),
    }
}

enum Kind {
    Plain,
    Override,
    /// list_or_dict: merge by key after converting lists to mappings.
    Dict,
    /// Sequence whose items are unique by the given identity.
    Unique(fn(&Node) -> Option<String>),
}

fn path_kind(path: &[&str]) -> Kind {
    match path {
        ["services", _, "command" | "entrypoint"] | ["services", _, "healthcheck", "test"] => Kind::Override,
        ["services", _, "environment" | "labels" | "sysctls" | "extra_hosts" | "annotations"]
        | ["services", _, "deploy", "labels"]
        | ["services", _, "build", "args" | "labels"]
        | ["services", _, "networks" | "depends_on"]
        | ["networks" | "volumes", _, "labels"] => Kind::Dict,
        ["services", _, "volumes" | "devices"] => Kind::Unique(|n| field_or_short(n, "target", 1)),
        ["services", _, "secrets" | "configs"] => Kind::Unique(|n| field_or_short(n, "source", 0)),
        ["services", _, "ports" | "expose" | "dns" | "dns_search" | "cap_add" | "cap_drop" | "tmpfs" | "profiles" | "security_opt" | "group_add" | "env_file"] => {
            Kind::Unique(|n| Some(format!("{:?}", n.to_json())))
        }
        _ => Kind::Plain,
    }
}

fn identity(kind: &Kind, n: &Node) -> Option<String> {
    match kind {
        Kind::Unique(f) => f(n),
        _ => None,
    }
}

/// `target` of a long form, or the `idx`-th `:` part of a short string (the whole
/// string when it has no `:`; e.g. anonymous volume `/data`).
fn field_or_short(n: &Node, field: &str, idx: usize) -> Option<String> {
    match &n.v {
        Value::Map(_) => n.get(field).and_then(Node::scalar),
        _ => {
            let s = n.scalar()?;
            let parts: Vec<&str> = s.split(':').collect();
            Some(if parts.len() == 1 { s.clone() } else { parts.get(idx).unwrap_or(&"").to_string() })
        }
    }
}

/// Turns a list form (`KEY=VAL`, `KEY`, `name` for networks/depends_on) into a mapping.
pub fn to_dict(n: Node, path: &[&str]) -> Node {
    let sep = match path.last() {
        Some(&"extra_hosts") => ['=', ':'].as_slice(),
        Some(&"networks") | Some(&"depends_on") => [].as_slice(),
        _ => ['='].as_slice(),
    };
    let is_dep = path.last() == Some(&"depends_on");
    match n.v {
        Value::Seq(items) => {
            let mut m: Vec<(Key, Node)> = Vec::new();
            for it in items {
                let Some(s) = it.scalar() else { continue };
                let (k, v) = match s.split_once(sep) {
                    Some((k, v)) => (k.to_string(), Node::new(Value::Str(v.to_string()), it.pos)),
                    None if is_dep => {
                        let cond = Node::new(Value::Str("service_started".into()), it.pos);
                        (s.clone(), Node::new(Value::Map(vec![(Key { name: "condition".into(), pos: it.pos }, cond)]), it.pos))
                    }
                    None => (s.clone(), Node::new(Value::Null, it.pos)),
                };
                m.retain(|(mk, _)| mk.name != k);
                m.push((Key { name: k, pos: it.pos }, v));
            }
            Node::new(Value::Map(m), n.pos)
        }
        v => Node::new(v, n.pos),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    #[test]
    fn merges_like_compose() {
        let a = parse(0, "services:\n  web:\n    image: a\n    command: [x, y]\n    environment: [A=1, B=2]\n    ports: ['80:80']\n    volumes: ['d:/data', '/c:/cache']\n").unwrap();
        let b = parse(1, "services:\n  web:\n    image: b\n    command: [z]\n    environment: {B: 3}\n    ports: ['81:81', '80:80']\n    volumes: ['e:/data']\n").unwrap();
        let m = merge(a, b, &[]).to_json();
        let w = &m["services"]["web"];
        assert_eq!(w["image"], "b");
        assert_eq!(w["command"], serde_json::json!(["z"]));
        assert_eq!(w["environment"], serde_json::json!({"A": "1", "B": 3}));
        assert_eq!(w["ports"], serde_json::json!(["80:80", "81:81"]));
        assert_eq!(w["volumes"], serde_json::json!(["e:/data", "/c:/cache"]));
    }
}
