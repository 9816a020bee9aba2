//! A replica's container name that another container already holds: whose it is,
//! and what to do about it.
//!
//! Docker's own answer (`The container name "/x" is already in use`) says nothing
//! about the holder, and an agent may not simply take the name over: it touches only
//! what it created (label [`labels::OWNER`]). The usual holders are this agent's own
//! older copy (a start-first update), a container an earlier agent on this engine made
//! (the node's data dir was wiped, so the agent id changed), or one made by hand or by
//! Docker Compose. Only the first is roost's to handle; for the others the user gets
//! the command that frees the name, and the agent retries until it is free.

use crate::labels;
use std::collections::BTreeMap;

/// The container holding a name, as `docker inspect` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameHolder {
    pub id: String,
    pub labels: BTreeMap<String, String>,
}

/// What to do about a taken name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameClash {
    /// This agent's own container (an older copy of the slot during a start-first
    /// update): the new copy takes the name with its config hash instead.
    Ours,
    /// A container this agent may not touch: the slot stays blocked with this message
    /// (for `roost ps` and the log) until the user frees the name.
    Foreign(String),
}

/// Judges who holds `name`. `me` is this agent's owner id; without one (a driver not
/// scoped to an owner), every roost container counts as its own, as it observes them all.
pub fn judge(name: &str, holder: &NameHolder, me: Option<&str>) -> NameClash {
    let label = |key: &str| holder.labels.get(key).map(String::as_str);
    let remove = format!("`docker rm -f {name}`");
    if label(labels::MANAGED) != Some("true") {
        return NameClash::Foreign(match label(labels::COMPOSE_PROJECT) {
            Some(project) => format!(
                "the name \"{name}\" is taken by a container of Docker Compose project \"{project}\", which roost did not make: \
                 stop that project (`docker compose -p {project} down`) or remove the container ({remove}), and roost creates its own"
            ),
            None => format!(
                "the name \"{name}\" is taken by a container roost did not make: rename or remove it ({remove}), and roost creates its own"
            ),
        });
    }
    let owner = label(labels::OWNER);
    match (me, owner) {
        (None, _) => NameClash::Ours,
        (Some(me), Some(owner)) if owner == me => NameClash::Ours,
        (Some(_), owner) => {
            let who = owner.map_or_else(|| "with no owner label".to_owned(), |o| format!("(owner {o})"));
            let what = match (label(labels::STACK), label(labels::SERVICE), label(labels::SLOT)) {
                (Some(stack), Some(service), Some(slot)) => format!(" for {stack}/{service}#{slot}"),
                _ => String::new(),
            };
            NameClash::Foreign(format!(
                "the name \"{name}\" is taken by a container that another roost agent {who} made{what}, likely this node's \
                 former data dir (an agent touches only what it created): remove it with {remove} and roost creates its own"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(labels: &[(&str, &str)]) -> NameHolder {
        NameHolder { id: "c0ffee".into(), labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    fn message(clash: NameClash) -> String {
        match clash {
            NameClash::Foreign(m) => m,
            NameClash::Ours => panic!("expected a foreign holder"),
        }
    }

    #[test]
    fn own_containers_take_the_hashed_name_others_get_the_command_that_frees_the_name() {
        let own = holder(&[(labels::MANAGED, "true"), (labels::OWNER, "me")]);
        assert_eq!(judge("s-web-1", &own, Some("me")), NameClash::Ours);
        assert_eq!(judge("s-web-1", &own, None), NameClash::Ours, "an unscoped driver observes every roost container");

        let former = holder(&[
            (labels::MANAGED, "true"),
            (labels::OWNER, "1a2b3c4d5e6f7a8b"),
            (labels::STACK, "s"),
            (labels::SERVICE, "web"),
            (labels::SLOT, "1"),
        ]);
        assert_eq!(
            message(judge("s-web-1", &former, Some("me"))),
            "the name \"s-web-1\" is taken by a container that another roost agent (owner 1a2b3c4d5e6f7a8b) made for s/web#1, \
             likely this node's former data dir (an agent touches only what it created): remove it with `docker rm -f s-web-1` \
             and roost creates its own"
        );
        let unlabelled_owner = holder(&[(labels::MANAGED, "true")]);
        assert!(message(judge("x", &unlabelled_owner, Some("me")))
            .contains("another roost agent with no owner label made, likely"));

        let by_hand = holder(&[]);
        assert_eq!(
            message(judge("s-web-1", &by_hand, Some("me"))),
            "the name \"s-web-1\" is taken by a container roost did not make: rename or remove it (`docker rm -f s-web-1`), \
             and roost creates its own"
        );
        let compose = holder(&[(labels::COMPOSE_PROJECT, "s")]);
        let said = message(judge("s-web-1", &compose, Some("me")));
        assert!(said.contains("Docker Compose project \"s\"") && said.contains("`docker compose -p s down`"), "{said}");
        assert!(said.contains("`docker rm -f s-web-1`"), "{said}");
    }
}
