//! Bounded fuzzing of the Compose loader (`roost_compose::load`, what `roost config`
//! runs): mutated awesome-compose samples and small files with hostile values load to
//! Ok or Err, never panic, and finish quickly; alias bombs are refused.
use proptest::prelude::*;
use roost_compose::{load, LoadOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The seed folder: `shared/` beside the repo (as CI has it), else `/work/shared`.
fn samples_dir() -> Option<PathBuf> {
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compose-samples");
    [beside, PathBuf::from("/work/shared/compose-samples")]
        .into_iter()
        .find(|d| d.is_dir())
}

fn collect(dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect(&p, out);
        } else if let Ok(text) = std::fs::read_to_string(&p) {
            out.push(text);
        }
    }
}

fn seeds() -> Option<Vec<String>> {
    let Some(dir) = samples_dir() else {
        eprintln!("skipping: compose-samples folder not found (expected ../shared/compose-samples beside the repo or /work/shared/compose-samples)");
        return None;
    };
    let mut out = Vec::new();
    collect(&dir, &mut out);
    if out.is_empty() {
        eprintln!("skipping: no files in {}", dir.display());
        return None;
    }
    Some(out)
}

/// Loads `text` as the only Compose file of a project in `dir`; must not panic and
/// must not take long.
fn load_text(dir: &Path, text: &str) {
    let file = dir.join("compose.yaml");
    std::fs::write(&file, text).unwrap();
    let opts = LoadOptions {
        files: vec![file],
        project_name: Some("fuzz".into()),
        profiles: vec![],
        env: [("HOME".to_string(), "/home/u".to_string()), ("X".to_string(), "1".to_string())].into(),
    };
    let start = Instant::now();
    let result = load(&opts);
    if let Ok(l) = &result {
        let _ = roost_compose::render_yaml(&l.stack);
    } else if let Err(e) = &result {
        let _ = e.to_string();
    }
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "load took {took:?} for {} bytes", text.len());
}

const VALUES: &[&str] = &[
    "99999999999999999999",
    "-1",
    "0",
    "1e400",
    "1e308",
    "-1e308",
    ".inf",
    ".nan",
    "9999999999h",
    "1e400s",
    "-5s",
    "99999999999999999999g",
    "1.5.5",
    "\"\"",
    "[]",
    "{}",
    "null",
    "~",
    "true",
    "[\"99999:99999\"]",
    "[\"1-99999:80\"]",
    "[\"0-0:0-0\"]",
    "[\"80-1:80-1\"]",
    "[\"1-65535:1-65535\"]",
    "[\"a:b:c:d\"]",
    "[\"::::\"]",
    "[\"127.0.0.1:99999999999999999999:80\"]",
    "[{target: 99999999999999999999}]",
    "[{target: -1, published: \"1-99999\"}]",
    "{replicas: -1}",
    "{replicas: 99999999999999999999}",
    "{resources: {limits: {cpus: \"1e400\", memory: \"99999999999999999999g\"}}}",
    "{mode: global, replicas: 3}",
    "{update_config: {parallelism: -1, delay: 9999999999h}}",
    "{test: [\"CMD\"], interval: 9999999999h, retries: -1}",
    "{test: \"\", timeout: 1e400s, start_period: -1s}",
    "[\"${\"]",
    "\"${X:?}\"",
    "\"$$\"",
    "\"\\u0000\"",
    "[\"/\"]",
    "[\":\"]",
    "[\"a:/b:rw:z:extra\"]",
    "[\"traefik.http.routers.r.rule=Host(`a`) && !!!(\"]",
    "{routes: [{host: \"!\", path: \"x\"}]}",
    "{routes: [{host: \"a\", path: \"/\", port: 99999999999999999999}]}",
    "{nofile: {soft: -1, hard: 99999999999999999999}}",
    "{nproc: 99999999999999999999}",
    "{a: {condition: nonsense}}",
    "[b]",
    "{net.core.x: 1e400}",
];

fn tricky_tokens() -> Vec<String> {
    let mut t: Vec<String> = [
        "99999999999999999999",
        "-1",
        "1e400",
        "-1e400",
        ".nan",
        "${",
        "${X",
        "${X:?boom}",
        "${X:-${X:-${X}}}",
        "$$",
        "$",
        "&a ",
        "*a",
        "<<: *a",
        "<<: [*a, *b]",
        "!!binary ",
        "!!str ",
        "!!int ",
        ": :",
        "\t",
        "é",
        "\u{1F600}",
        "\"\\u0000\"",
        "\u{0}",
        "'",
        "\"",
        "{",
        "}",
        "[",
        "]",
        "- ",
        "---\n",
        "...\n",
        "? ",
        "|\n",
        ">-\n",
        "#",
        "%YAML 1.2\n",
        "~",
        "null",
        "0x",
        "0o",
        "0755",
        "\n",
        "\n  ",
        "stop_grace_period: 9999999999h",
        "stop_grace_period: 1e400s",
        "cpus: 1e308",
        "cpus: -1",
        "mem_limit: 99999999999999999999g",
        "mem_limit: 1e400",
        "shm_size: -1",
        "replicas: -1",
        "replicas: 99999999999999999999",
        "\"99999:99999\"",
        "\"1-99999:80\"",
        "\"65535-0:80\"",
        "\"1-65535:1-65535\"",
        "\"::1:80:80\"",
        "\"[::1]:99999:80\"",
        "80/udpx",
        "healthcheck: {interval: 9999999999h}",
        "ulimits: {nofile: {soft: -1, hard: 99999999999999999999}}",
        "labels: [\"traefik.http.routers.r.rule=Host(\"]",
        "x-roost: {routes: [{host: \"\", path: \"\"}]}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    t.push("[".repeat(300));
    t.push("{a: ".repeat(300));
    t.push("- ".repeat(300));
    t.push(format!("{}: 1\n", "k".repeat(5000)));
    t
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        at: usize,
        xor: u8,
    },
    Truncate {
        at: usize,
    },
    DupLine {
        line: usize,
    },
    Insert {
        at: usize,
        token: usize,
    },
    /// Replaces what follows the first `: ` of a line with a tricky value.
    ReplaceValue {
        line: usize,
        value: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        any::<usize>().prop_map(|line| Mutation::DupLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(at, token)| Mutation::Insert { at, token }),
        (any::<usize>(), any::<usize>()).prop_map(|(line, value)| Mutation::ReplaceValue { line, value }),
        (any::<usize>(), any::<usize>()).prop_map(|(line, value)| Mutation::ReplaceValue { line, value }),
    ]
}

fn apply(text: &str, muts: &[Mutation], tokens: &[String]) -> String {
    let mut b = text.as_bytes().to_vec();
    for m in muts {
        match *m {
            Mutation::Flip { at, xor } if !b.is_empty() => {
                let i = at % b.len();
                b[i] ^= xor;
            }
            Mutation::Truncate { at } => b.truncate(at % (b.len() + 1)),
            Mutation::DupLine { line } => {
                let s = String::from_utf8_lossy(&b).into_owned();
                let mut lines: Vec<&str> = s.split('\n').collect();
                let i = line % lines.len();
                lines.insert(i, lines[i]);
                b = lines.join("\n").into_bytes();
            }
            Mutation::Insert { at, token } => {
                let i = at % (b.len() + 1);
                let t = tokens[token % tokens.len()].as_bytes();
                b.splice(i..i, t.iter().copied());
            }
            Mutation::ReplaceValue { line, value } => {
                let s = String::from_utf8_lossy(&b).into_owned();
                let mut lines: Vec<String> = s.split('\n').map(str::to_string).collect();
                let i = line % lines.len();
                if let Some(colon) = lines[i].find(": ") {
                    lines[i] = format!("{}: {}", &lines[i][..colon], VALUES[value % VALUES.len()]);
                }
                b = lines.join("\n").into_bytes();
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_load_mutated_samples_never_panics(seed in any::<usize>(), muts in prop::collection::vec(mutation(), 1..5)) {
        let Some(seeds) = seeds() else { return Ok(()) };
        let dir = tempfile::tempdir().unwrap();
        let text = apply(&seeds[seed % seeds.len()], &muts, &tricky_tokens());
        load_text(dir.path(), &text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Two mutated samples merged with `-f a -f b`.
    #[test]
    fn fuzz_load_merged_mutated_samples_never_panic(
        a in any::<usize>(), b in any::<usize>(),
        ma in prop::collection::vec(mutation(), 0..3), mb in prop::collection::vec(mutation(), 0..3),
    ) {
        let Some(seeds) = seeds() else { return Ok(()) };
        let tokens = tricky_tokens();
        let dir = tempfile::tempdir().unwrap();
        let (fa, fb) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
        std::fs::write(&fa, apply(&seeds[a % seeds.len()], &ma, &tokens)).unwrap();
        std::fs::write(&fb, apply(&seeds[b % seeds.len()], &mb, &tokens)).unwrap();
        let opts = LoadOptions { files: vec![fa, fb], project_name: Some("fuzz".into()), profiles: vec!["*".into()], ..LoadOptions::default() };
        let start = Instant::now();
        if let Ok(l) = load(&opts) {
            let _ = roost_compose::render_yaml(&l.stack);
        }
        prop_assert!(start.elapsed() < Duration::from_secs(5));
    }
}

/// Service keys with hostile values, as small files: deeper than random mutation gets.
fn service_line() -> impl Strategy<Value = String> {
    const KEYS: &[&str] = &[
        "stop_grace_period",
        "cpus",
        "mem_limit",
        "memswap_limit",
        "shm_size",
        "ports",
        "expose",
        "environment",
        "labels",
        "command",
        "entrypoint",
        "healthcheck",
        "deploy",
        "restart",
        "volumes",
        "networks",
        "depends_on",
        "ulimits",
        "user",
        "working_dir",
        "scale",
        "pids_limit",
        "cpu_shares",
        "extra_hosts",
        "dns",
        "tmpfs",
        "sysctls",
        "x-roost",
        "profiles",
        "secrets",
        "configs",
    ];
    (prop::sample::select(KEYS), prop::sample::select(VALUES)).prop_map(|(k, v)| format!("    {k}: {v}\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_load_hostile_service_values_never_panic(lines in prop::collection::vec(service_line(), 1..6)) {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("services:\n  a:\n    image: busybox\n{}  b:\n    image: busybox\n", lines.concat());
        load_text(dir.path(), &text);
    }
}

/// Every token once at the start of a service and as a top-level value: cheap and
/// deterministic.
#[test]
fn fuzz_load_each_tricky_token_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    for t in tricky_tokens() {
        load_text(dir.path(), &format!("services:\n  a:\n    image: busybox\n    {t}\n"));
        load_text(dir.path(), &format!("services:\n  a:\n    image: {t}\n"));
        load_text(dir.path(), &format!("{t}\nservices:\n  a:\n    image: busybox\n"));
        load_text(dir.path(), &t);
    }
}

/// Billion laughs: 10 anchors each aliasing the previous one 10 times (10^10 nodes
/// expanded) must be refused quickly, not expanded.
#[test]
fn alias_bomb_is_refused_quickly() {
    let mut text = String::from("x-a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("x-a{i}: &a{i} [{refs}]\n"));
    }
    text.push_str("services:\n  a:\n    image: busybox\n    command: *a9\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), &text).unwrap();
    let opts = LoadOptions {
        files: vec![dir.path().join("compose.yaml")],
        project_name: Some("fuzz".into()),
        ..LoadOptions::default()
    };
    let start = Instant::now();
    let e = load(&opts).expect_err("an alias bomb must be refused");
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
    assert!(e.to_string().contains("alias"), "{e}");

    // A mapping bomb through merge keys, too.
    let mut text = String::from("x-m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}\n");
    for i in 1..10 {
        let refs = (0..10).map(|k| format!("k{k}: *m{}", i - 1)).collect::<Vec<_>>().join(", ");
        text.push_str(&format!("x-m{i}: &m{i} {{{refs}}}\n"));
    }
    text.push_str("services:\n  a:\n    image: busybox\n    labels:\n      <<: *m9\n");
    std::fs::write(dir.path().join("compose.yaml"), &text).unwrap();
    let start = Instant::now();
    let e = load(&opts).expect_err("a mapping alias bomb must be refused");
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
    assert!(e.to_string().contains("alias"), "{e}");
}

/// Ordinary anchors and aliases, as the samples use them, still load.
#[test]
fn modest_aliases_still_load() {
    let text = "x-common: &common\n  image: busybox\n  environment: {A: \"1\"}\nservices:\n  a:\n    <<: *common\n  b:\n    <<: *common\n    command: [\"true\"]\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), text).unwrap();
    let opts = LoadOptions {
        files: vec![dir.path().join("compose.yaml")],
        project_name: Some("fuzz".into()),
        ..LoadOptions::default()
    };
    let l = load(&opts).unwrap();
    assert_eq!(l.stack.services.len(), 2);
}

/// Deep nesting is refused with an error instead of overflowing the stack.
#[test]
fn deep_nesting_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for depth in [300usize, 10_000] {
        for text in [
            format!(
                "services:\n  a:\n    image: busybox\n    command: {}{}\n",
                "[".repeat(depth),
                "]".repeat(depth)
            ),
            format!("x: {}1{}\n", "{a: ".repeat(depth), "}".repeat(depth)),
            format!("x: {}1\n", "- ".repeat(depth)),
        ] {
            load_text(dir.path(), &text);
        }
    }
}

/// Interpolation pieces, in values and in the project's `.env`.
const INTERP: &[&str] = &[
    "$",
    "$$",
    "${",
    "}",
    "{",
    "X",
    "U",
    "_",
    "1",
    ":",
    "-",
    "+",
    "?",
    ":-",
    ":+",
    ":?",
    "${X}",
    "${U}",
    "$X",
    "$U",
    "${X:-",
    "${U:-",
    "${U:?",
    "${X:+",
    " ",
    "é",
    "\u{1F600}",
    "\\",
    "'",
    "\"",
    "#",
    " #",
    "=",
    "\n",
    "export ",
];

fn interp_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(INTERP), 0..30).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_load_interpolation_and_dotenv_never_panic(value in interp_text(), dotenv in interp_text()) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), format!("A={dotenv}\n{dotenv}\nB=\"{dotenv}\"\nC='{dotenv}'\n")).unwrap();
        let quoted = serde_json::to_string(&value).unwrap();
        let text = format!(
            "services:\n  a:\n    image: {quoted}\n    command: [{quoted}]\n    environment:\n      E: {quoted}\n    labels:\n      {quoted}: {quoted}\n"
        );
        load_text(dir.path(), &text);
    }
}

/// Deeply nested `${U:-${U:-...}}` defaults are refused or expanded, not a stack overflow.
#[test]
fn deep_interpolation_nesting_does_not_overflow() {
    let dir = tempfile::tempdir().unwrap();
    for (open, depth) in [("${U:-", 20_000usize), ("${X:+", 20_000), ("${U:?", 20_000)] {
        let value = format!("{}x{}", open.repeat(depth), "}".repeat(depth));
        load_text(
            dir.path(),
            &format!("services:\n  a:\n    image: busybox\n    command: [\"{value}\"]\n"),
        );
        std::fs::write(dir.path().join(".env"), format!("A={value}\nB=\"{value}\"\n")).unwrap();
        load_text(dir.path(), "services:\n  a:\n    image: busybox\n");
        std::fs::remove_file(dir.path().join(".env")).unwrap();
    }
}
