//! Bounded fuzzing of the API's deploy body and everything that consumes an accepted
//! one: valid requests (made from Compose files) are mutated at random places with
//! hostile values, and each result goes the way `PUT /v1/stacks/NAME` sends it: JSON
//! parsing, validation, the Raft apply, config hashes, placement, the reconciler's plan,
//! the cluster network's wiring and the Docker configs. Every step answers Ok or Err;
//! nothing panics.

use proptest::prelude::*;
use roost_api::DeployRequest;
use roost_cluster::state::ClusterState;
use roost_cluster::types::Command;
use roost_core::placement::{place, NodeView};
use roost_core::reconcile::Reconciler;
use serde_json::Value;
use std::collections::BTreeMap;

const SEEDS: [&str; 3] = [
    "services:
  web:
    image: nginx:1.27
    ports: [\"8080:80\"]
    depends_on: {db: {condition: service_healthy}}
    deploy: {replicas: 2, update_config: {parallelism: 1, order: start-first, failure_action: rollback}}
    x-roost: {routes: [{host: shop.lan, port: 80, tls: off}]}
  db:
    image: postgres:16
    environment: {POSTGRES_PASSWORD: x}
    volumes: [\"data:/var/lib/postgresql/data\"]
    healthcheck: {test: [\"CMD\", \"pg_isready\"], interval: 2s}
volumes:
  data: {}
",
    "services:
  app:
    image: app
    networks: [front, back]
    labels: {traefik.http.routers.a.rule: Host(`a.lan`)}
    deploy: {placement: {constraints: [node.labels.disk==ssd]}, resources: {reservations: {memory: 64M, cpus: '0.5'}}}
  side:
    image: side
    network_mode: service:app
networks:
  front: {}
  back: {internal: true}
",
    "services:
  job:
    image: busybox
    command: [sh, -c, 'echo $$HOME']
    restart: \"no\"
    ulimits: {nofile: {soft: 1024, hard: 4096}}
    devices: [/dev/null]
    stop_grace_period: 3s
",
];

/// The seeds as deploy bodies, as the CLI would send them.
fn seeds() -> Vec<Value> {
    SEEDS
        .iter()
        .enumerate()
        .map(|(i, yaml)| {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("compose.yaml");
            std::fs::write(&file, yaml).unwrap();
            let options = roost_compose::LoadOptions { files: vec![file], project_name: Some(format!("fz{i}")), ..Default::default() };
            let loaded = roost_compose::load(&options).unwrap_or_else(|e| panic!("seed {i}: {e:?}"));
            serde_json::to_value(DeployRequest { stack: loaded.stack }).unwrap()
        })
        .collect()
}

/// Values that have broken parsers before: huge, negative, empty, odd strings.
fn hostile() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        Just(Value::from(u64::MAX)),
        Just(Value::from(-1)),
        Just(Value::from(0)),
        "\\PC{0,24}".prop_map(Value::String),
        prop::sample::select(vec!["", "..", "/", "a:b:c", "-1", "99999999999999999999h", "${X}", "\u{0}", "x/../../etc"])
            .prop_map(|s| Value::String(s.into())),
        Just(Value::Array(vec![])),
        Just(Value::Object(Default::default())),
        Just(Value::Array(vec![Value::from(1); 3])),
    ]
}

/// One edit: which value, and what it becomes. Most edits keep the value's type (a
/// string stays a string, a number a number), so that many bodies get past parsing
/// and validation to what consumes them; the rest put any value anywhere.
#[derive(Debug, Clone)]
struct Edit {
    index: usize,
    keep_type: bool,
    text: String,
    number: Value,
    any: Value,
}

fn edit() -> impl Strategy<Value = Edit> {
    let text = prop_oneof![
        "\\PC{0,24}",
        prop::sample::select(vec!["", "..", "/", "a:b:c", "-1", "0", "99999999999999999999h", "${X}", "\u{0}", "x/../../etc", "1.5.5.5", "::"])
            .prop_map(String::from),
    ];
    let number = prop_oneof![
        any::<u32>().prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        Just(Value::from(i64::MIN)),
        Just(Value::from(0)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
    ];
    (any::<usize>(), prop::bool::weighted(0.8), text, number, hostile())
        .prop_map(|(index, keep_type, text, number, any)| Edit { index, keep_type, text, number, any })
}

/// Applies `edit` to the `index`-th value (depth first, modulo the count).
fn apply(v: &mut Value, edit: Edit) {
    let with = |old: &Value| match (edit.keep_type, old) {
        (true, Value::String(_)) => Value::String(edit.text.clone()),
        (true, Value::Number(_)) => edit.number.clone(),
        _ => edit.any.clone(),
    };
    let mut target = None;
    let total = count(v);
    find(v, edit.index % total, &mut target);
    if let Some(t) = target {
        *t = with(t);
    }
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

fn find<'a>(v: &'a mut Value, index: usize, out: &mut Option<&'a mut Value>) {
    if index == 0 {
        *out = Some(v);
        return;
    }
    let mut index = index - 1;
    let children: Vec<&'a mut Value> = match v {
        Value::Array(a) => a.iter_mut().collect(),
        Value::Object(o) => o.values_mut().collect(),
        _ => return,
    };
    for child in children {
        let n = count(child);
        if index < n {
            return find(child, index, out);
        }
        index -= n;
    }
}

fn nodes() -> Vec<NodeView> {
    (1..=3u64)
        .map(|id| NodeView {
            id,
            name: format!("h{id}"),
            labels: BTreeMap::from([("disk".into(), "ssd".into())]),
            role: "manager".into(),
            witness: false,
            up: true,
            draining: false,
            cpus: 2.0,
            memory_bytes: 1 << 30,
            gpus: vec![],
            devices: vec![],
            volumes: Default::default(),
            snapshots: Default::default(),
        })
        .collect()
}

/// What the agent does with a deploy body, without the IO.
fn consume(body: &[u8]) {
    let Ok(req) = serde_json::from_slice::<DeployRequest>(body) else { return };
    let stack = req.stack;
    if roost_core::validate::validate_stack(&stack).is_err() {
        return;
    }
    let mut state = ClusterState::default();
    state.apply(&Command::PutStack { stack: stack.clone(), node: 1 });
    for svc in stack.services.keys() {
        let hash = roost_core::hash::config_hash(&stack, svc).unwrap_or_default();
        let _ = roost_docker::config::container_config(&stack, svc, 1, &hash);
    }
    for net in stack.networks.keys() {
        let _ = roost_docker::config::network_config(&stack, net);
    }
    for vol in stack.volumes.keys() {
        let _ = roost_docker::config::volume_config(&stack, vol);
    }
    let desired = BTreeMap::from([(stack.name.clone(), roost_net::wire::wire(&stack))]);
    let _ = place(&desired, &nodes(), &Default::default());
    let _ = Reconciler::default().plan(&desired, &Default::default(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_deploy_bodies_never_panic(seed in 0usize..SEEDS.len(), edits in prop::collection::vec(edit(), 1..4)) {
        let mut body = seeds().swap_remove(seed);
        for e in edits {
            apply(&mut body, e);
        }
        consume(&serde_json::to_vec(&body).unwrap());
    }

    #[test]
    fn arbitrary_bytes_as_a_deploy_body_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        consume(&bytes);
    }
}

#[test]
fn the_seeds_are_accepted_whole() {
    for body in seeds() {
        let req: DeployRequest = serde_json::from_value(body).unwrap();
        roost_core::validate::validate_stack(&req.stack).unwrap();
    }
}
