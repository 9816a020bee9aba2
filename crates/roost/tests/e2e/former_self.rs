//! An agent meeting its former self: the data dir was wiped (reinstall, disk swap), so
//! the agent id changed, and the containers the earlier agent made are still there.
//! The new agent may not touch them (invariant 16), so it says whose they are and the
//! command that frees the name, and converges by itself once that command ran.

use crate::harness::*;
use std::time::Duration;

fn sleeper() -> String {
    format!("services:\n  web:\n    image: {IMAGE}\n    command: [\"sleep\", \"100000\"]\n    init: true\n")
}

/// Removes the named containers when dropped, so a failed test leaves none behind.
struct RemoveOnDrop(Vec<String>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = docker(&["rm", "-f", "-v", name]);
        }
    }
}

/// The `note` of a ps row, or "" while there is none.
fn note(agent: &Agent, stack: &str) -> String {
    agent
        .ps(stack)
        .iter()
        .find(|r| r["service"] == "web" && r["slot"] == 1)
        .and_then(|r| r["note"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_name_held_by_the_agents_former_self_is_reported_with_the_command_that_frees_it_then_converges() {
    let _serial = serial();
    let stack = "e2eformer";
    let name = "e2eformer-web-1";
    let _leftover = RemoveOnDrop(vec![name.to_owned()]);
    let mut former = Agent::start();
    ok(&former.up(stack, &sleeper()));
    let former_id = std::fs::read_to_string(former.dir.path().join("data/agent-id")).expect("the agent id file");
    former.kill9();
    let old = containers(stack);
    assert_eq!(old.len(), 1, "{old:?}");

    // A new data dir on the same engine: a new agent id.
    let mut agent = Agent::start();
    let up = agent.up(stack, &sleeper());
    assert!(!up.status.success(), "the name is taken: up --wait reports it");
    let command = format!("`docker rm -f {name}`");
    assert!(stderr(&up).contains(&command), "up names the command: {}", stderr(&up));
    let said = note(&agent, stack);
    assert!(said.contains(&format!("another roost agent (owner {})", former_id.trim())), "{said}");
    assert!(said.contains("former data dir") && said.contains(&command), "{said}");
    assert_eq!(containers(stack), old, "the former self's container is left alone, and no second copy runs");

    // Retried every second, logged once.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(agent.log().matches("is taken by a container").count(), 1, "{}", agent.log());

    docker(&["rm", "-f", name]);
    wait_until(Duration::from_secs(15), "the slot to converge after the holder is gone", || {
        agent.row(stack, "web", 1)["ready"] == true
    });
    let now = containers(stack);
    assert!(now.contains_key(name) && now[name] != old[name], "{now:?}");
    let owner = docker_out(&["inspect", "-f", "{{index .Config.Labels \"io.roost.owner\"}}", name]);
    assert_eq!(owner, std::fs::read_to_string(agent.dir.path().join("data/agent-id")).unwrap().trim());
    assert!(note(&agent, stack).is_empty());
}

#[test]
fn a_name_held_by_a_container_roost_did_not_make_is_reported_and_left_alone() {
    let _serial = serial();
    let stack = "e2estranger";
    let name = "e2estranger-web-1";
    let _stranger = RemoveOnDrop(vec![name.to_owned()]);
    let _ = docker(&["rm", "-f", name]);
    // No network: what matters is the name, and the test then does not depend on the
    // engine's default bridge (once missing here after testbed runs, cause unknown).
    let run = docker(&["run", "-d", "--network", "none", "--name", name, IMAGE, "sleep", "100000"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));

    let mut agent = Agent::start();
    let up = agent.up(stack, &sleeper());
    assert!(!up.status.success());
    let said = note(&agent, stack);
    assert!(said.contains("roost did not make") && said.contains(&format!("`docker rm -f {name}`")), "{said}");
    assert_eq!(docker_out(&["inspect", "-f", "{{.State.Running}}", name]), "true", "roost leaves it alone");
}
