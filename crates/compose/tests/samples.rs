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
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().and_then(|x| x.to_str()) != Some("yaml") {
            continue;
        }
        n += 1;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let opts = LoadOptions { files: vec![path.clone()], project_name: None, profiles: vec![], env: [("HOME".to_string(), "/home/u".to_string())].into() };
        match (name.as_str(), load(&opts)) {
            (_, Ok(l)) => assert!(!l.stack.services.is_empty(), "{name}: no services"),
            // `${PLEX_MEDIA_PATH}:/media/` with the variable unset is an invalid volume, as in Compose.
            ("plex.yaml", Err(e)) => assert!(e.to_string().contains("empty source or target"), "{e}"),
            (_, Err(e)) => panic!("{name} failed to load:\n{e}"),
        }
    }
    assert!(n > 30, "expected the awesome-compose samples, found {n}");
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
