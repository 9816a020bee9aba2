//! Loads Docker Compose files into roost's normalized [`roost_spec::Stack`], parsing as
//! `docker compose` does: YAML (anchors, merge keys) → interpolation of values → schema
//! validation per file → merge of `-f` files → profile filtering → normalization.
//!
//! Every stage keeps file:line:column so all errors and warnings point at the source.
#![forbid(unsafe_code)]

pub mod diag;
pub mod dotenv;
pub mod interpolate;
pub mod merge;
pub mod normalize;
pub mod schema;
pub mod yaml;

pub use diag::{Diagnostic, LoadError, Severity};

use diag::{Pos, Sources};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use yaml::{Node, Value};

/// What to load and with which environment.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f` files in order; later ones merge over earlier ones.
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// Active profiles (`COMPOSE_PROFILES` from `env` is added).
    pub profiles: Vec<String>,
    /// Process environment snapshot; wins over the project's `.env`.
    pub env: BTreeMap<String, String>,
}

/// A loaded stack and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub stack: roost_spec::Stack,
    pub warnings: Vec<Diagnostic>,
}

fn file_error(path: &Path, msg: String) -> LoadError {
    LoadError { diagnostics: vec![Diagnostic { severity: Severity::Error, file: path.to_path_buf(), line: 0, column: 0, key: None, message: msg, snippet: None }] }
}

fn split(diags: Vec<Diagnostic>) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    diags.into_iter().partition(|d| d.severity == Severity::Error)
}

/// Loads and normalizes the Compose project described by `opts`.
///
/// # Errors
/// A [`LoadError`] holding every error found: unreadable files, YAML syntax, missing
/// required variables, schema violations, and references to undefined or disabled
/// services, volumes, networks, secrets and configs.
pub fn load(opts: &LoadOptions) -> Result<Loaded, LoadError> {
    let first = opts.files.first().ok_or_else(|| file_error(Path::new("compose.yaml"), "no Compose file given".into()))?;
    let abs_first = if first.is_absolute() { first.clone() } else { std::env::current_dir().unwrap_or_default().join(first) };
    let project_dir = normalize::clean(abs_first.parent().unwrap_or(Path::new("/")));
    let mut sources = Sources::default();
    let mut diags = Vec::new();

    // Environment: the project's .env, with the process environment over it.
    let mut env = BTreeMap::new();
    let dotenv_path = project_dir.join(".env");
    if let Ok(text) = std::fs::read_to_string(&dotenv_path) {
        match dotenv::parse(&text, &opts.env) {
            Ok(vars) => env = vars,
            Err(e) => {
                let src = sources.add(&dotenv_path, text, &project_dir);
                diags.push(sources.diag(Severity::Error, Pos { src, line: e.line, col: e.column }, None, e.message));
            }
        }
    }
    env.extend(opts.env.iter().map(|(k, v)| (k.clone(), v.clone())));

    let mut merged: Option<Node> = None;
    for file in &opts.files {
        let text = std::fs::read_to_string(file).map_err(|e| file_error(file, format!("cannot read Compose file: {e}")))?;
        let src = sources.add(file, text, &project_dir);
        let mut root = match yaml::parse(src, &sources.files[src].text) {
            Ok(r) => r,
            Err(e) => {
                diags.push(sources.diag(Severity::Error, e.pos, None, e.message));
                continue;
            }
        };
        if !matches!(root.v, Value::Map(_)) {
            diags.push(sources.diag(Severity::Error, root.pos, None, "a Compose file must be a mapping (is the file empty?)"));
            continue;
        }
        interpolate::interpolate_tree(&mut root, "", &env, &sources, &mut diags);
        let schema_errors = schema::validate(&root, &sources);
        let bad = !schema_errors.is_empty();
        diags.extend(schema_errors);
        if let Some(k) = root.key_of("include") {
            diags.push(sources.diag(Severity::Error, k.pos, Some("include"), "`include` is not supported by roost yet: merge the files with several -f instead"));
        }
        for (name, svc) in root.get("services").map(Node::entries).unwrap_or_default() {
            if let Some(k) = svc.key_of("extends") {
                diags.push(sources.diag(Severity::Error, k.pos, Some(&format!("services.{}.extends", name.name)), "`extends` is not supported by roost yet: copy the keys or use several -f files"));
            }
        }
        if bad {
            continue;
        }
        merged = Some(match merged {
            None => root,
            Some(base) => merge::merge(base, root, &[]),
        });
    }
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(LoadError { diagnostics: split(diags).0 });
    }
    let mut root = merged.expect("at least one file parsed");

    let project = opts
        .project_name
        .clone()
        .or_else(|| root.get("name").and_then(Node::scalar))
        .or_else(|| env.get("COMPOSE_PROJECT_NAME").cloned())
        .unwrap_or_else(|| project_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    let project = normalize::normalize_name(&project);

    // Profiles.
    let mut profiles: BTreeSet<String> = opts.profiles.iter().cloned().collect();
    if let Some(p) = env.get("COMPOSE_PROFILES") {
        profiles.extend(p.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string));
    }
    let (mut active, mut inactive) = (BTreeSet::new(), BTreeSet::new());
    if let Some(Value::Map(services)) = root.get_mut("services").map(|s| &mut s.v) {
        services.retain(|(k, svc)| {
            let wanted: Vec<String> = svc.get("profiles").map(|p| p.items().iter().filter_map(Node::scalar).collect()).unwrap_or_default();
            let on = wanted.is_empty() || profiles.contains("*") || wanted.iter().any(|w| profiles.contains(w));
            if on { active.insert(k.name.clone()) } else { inactive.insert(k.name.clone()) };
            on
        });
    }

    let mut ctx = normalize::Ctx {
        sources: &sources,
        env: &env,
        project,
        diags,
        volumes: BTreeSet::new(),
        networks: BTreeSet::new(),
        secrets: BTreeSet::new(),
        configs: BTreeSet::new(),
        active,
        inactive,
        route_pos: BTreeMap::new(),
    };
    let stack = normalize::stack(&mut ctx, &root);
    let (errors, warnings) = split(ctx.diags);
    if !errors.is_empty() {
        return Err(LoadError { diagnostics: errors });
    }
    Ok(Loaded { stack, warnings })
}

/// Renders the normalized model as YAML for `roost config`.
pub fn render_yaml(stack: &roost_spec::Stack) -> String {
    serde_saphyr::to_string(stack).unwrap_or_else(|e| format!("# cannot render stack: {e}\n"))
}
