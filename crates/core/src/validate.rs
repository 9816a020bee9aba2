//! Checks a stack must pass before it becomes desired state, whoever sent it.
//!
//! The compose loader reports problems with file and line; these checks guard the
//! agent's API against any client, so the reconciler can trust what it plans from.

use roost_spec::{MountKind, Stack};
use std::collections::BTreeMap;

/// Largest replica count per service roost accepts (a typo guard, not a capacity model).
pub const MAX_REPLICAS: u32 = 100;

/// # Errors
/// A message naming the stack, service and the broken reference.
pub fn validate_stack(stack: &Stack) -> Result<(), String> {
    if !is_name(&stack.name) {
        return Err(format!(
            "stack name `{}` is invalid: use lowercase letters, digits, `-` and `_`, starting with a letter or digit",
            stack.name
        ));
    }
    for (name, svc) in &stack.services {
        let at = format!("stack `{}`, service `{name}`", stack.name);
        if !is_name(name) && !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            return Err(format!("{at}: invalid service name"));
        }
        if svc.image.trim().is_empty() {
            return Err(format!("{at}: no image"));
        }
        if svc.replicas > MAX_REPLICAS {
            return Err(format!("{at}: {} replicas is more than the {MAX_REPLICAS} roost allows", svc.replicas));
        }
        for (dep, rule) in &svc.depends_on {
            if rule.required && !stack.services.contains_key(dep) {
                return Err(format!("{at}: depends on `{dep}`, which is not a service of the stack"));
            }
        }
        for net in svc.networks.keys() {
            if !stack.networks.contains_key(net) {
                return Err(format!("{at}: uses network `{net}`, which the stack does not define"));
            }
        }
        for m in &svc.volumes {
            if let (MountKind::Volume, Some(v)) = (m.kind, &m.source) {
                if !stack.volumes.contains_key(v) {
                    return Err(format!("{at}: mounts volume `{v}`, which the stack does not define"));
                }
            }
        }
    }
    if let Some(cycle) = dependency_cycle(stack) {
        return Err(format!("stack `{}`: depends_on forms a cycle: {}", stack.name, cycle.join(" -> ")));
    }
    Ok(())
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn dependency_cycle(stack: &Stack) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit<'a>(stack: &'a Stack, name: &'a str, marks: &mut BTreeMap<&'a str, Mark>, path: &mut Vec<&'a str>) -> Option<Vec<String>> {
        match marks.get(name) {
            Some(Mark::Done) => return None,
            Some(Mark::Visiting) => {
                let start = path.iter().position(|p| *p == name).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(name.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(name, Mark::Visiting);
        path.push(name);
        if let Some(svc) = stack.services.get(name) {
            for dep in svc.depends_on.keys() {
                if let Some(c) = visit(stack, dep, marks, path) {
                    return Some(c);
                }
            }
        }
        path.pop();
        marks.insert(name, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for name in stack.services.keys() {
        if let Some(c) = visit(stack, name, &mut marks, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_spec::{Dependency, DependencyCondition, Service};

    #[test]
    fn rejects_bad_names_missing_references_and_cycles() {
        let mut s = Stack { name: "Bad Name".into(), ..Default::default() };
        assert!(validate_stack(&s).unwrap_err().contains("stack name `Bad Name` is invalid"));
        s.name = "ok".into();
        let dep = |d: &str| (d.to_string(), Dependency { condition: DependencyCondition::ServiceStarted, required: true });
        let mut a = Service { image: "x".into(), replicas: 1, ..Default::default() };
        a.depends_on.extend([dep("b")]);
        s.services.insert("a".into(), a.clone());
        assert_eq!(
            validate_stack(&s).unwrap_err(),
            "stack `ok`, service `a`: depends on `b`, which is not a service of the stack"
        );
        let mut b = a.clone();
        b.depends_on = [dep("a")].into_iter().collect();
        s.services.insert("b".into(), b);
        assert_eq!(validate_stack(&s).unwrap_err(), "stack `ok`: depends_on forms a cycle: a -> b -> a");
    }
}
