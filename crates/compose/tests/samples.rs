//! Every awesome-compose sample must load, or fail only for a reason asserted here.
use roost_compose::{load, LoadOptions};
use std::path::PathBuf;

fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compose-samples/awesome-compose")
}

#[test]
fn awesome_compose_samples_load() {
    let dir = samples_dir();
    assert!(dir.is_dir(), "sample folder {} is missing: clone the repo with shared/ as a sibling of the repo root", dir.display());
    let (mut n, mut traefik) = (0, 0);
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().and_then(|x| x.to_str()) != Some("yaml") {
            continue;
        }
        n += 1;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let opts = LoadOptions { files: vec![path.clone()], project_name: None, profiles: vec![], env: [("HOME".to_string(), "/home/u".to_string())].into() };
        match (name.as_str(), load(&opts)) {
            (_, Ok(l)) => {
                assert!(!l.stack.services.is_empty(), "{name}: no services");
                traefik += traefik_labels_are_routed_or_warned(&name, &l);
            }
            // `${PLEX_MEDIA_PATH}:/media/` with the variable unset is an invalid volume, as in Compose.
            ("plex.yaml", Err(e)) => assert!(e.to_string().contains("empty source or target"), "{e}"),
            (_, Err(e)) => panic!("{name} failed to load:\n{e}"),
        }
    }
    assert!(n > 30, "expected the awesome-compose samples, found {n}");
    assert!(traefik > 0, "expected a sample with Traefik labels");
}

/// A service with `traefik.*` labels gets routes, or a warning naming one of its
/// Traefik labels. Returns how many such services the sample has.
fn traefik_labels_are_routed_or_warned(name: &str, l: &roost_compose::Loaded) -> usize {
    let mut n = 0;
    for (svc, s) in &l.stack.services {
        if !s.labels.keys().any(|k| k.starts_with("traefik.")) {
            continue;
        }
        n += 1;
        let prefix = format!("services.{svc}.labels.traefik.");
        let warned: Vec<String> = l.warnings.iter().filter(|w| w.key.as_deref().is_some_and(|k| k.starts_with(&prefix))).map(|w| w.to_string()).collect();
        assert!(!s.routes.is_empty() || !warned.is_empty(), "{name}: {svc} has Traefik labels but neither routes nor warnings");
        if name == "traefik-golang.yaml" {
            // `Path(`/`)` is a Traefik matcher roost does not serve: named, not dropped.
            assert!(warned.iter().any(|w| w.contains("traefik.http.routers.go.rule: Path is not supported")), "{warned:?}");
        }
    }
    n
}

#[test]
fn copied_samples_load() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let env = [("HOME".to_string(), "/home/u".to_string())].into();
    let l = load(&LoadOptions { files: vec![dir.join("nginx-flask-mysql.yaml")], project_name: None, profiles: vec![], env }).unwrap();
    let db = &l.stack.services["db"];
    assert_eq!(db.secrets[0].target, "/run/secrets/db-password");
    assert!(l.stack.secrets["db-password"].file.as_deref().unwrap().ends_with("db/password.txt"));
    for f in ["prometheus-grafana.yaml", "wireguard.yaml"] {
        load(&LoadOptions { files: vec![dir.join(f)], ..Default::default() }).unwrap();
    }
}
