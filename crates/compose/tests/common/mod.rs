//! A temporary Compose project for tests: files in a temp folder, loaded with `-p demo`.
#![allow(dead_code)]
use roost_compose::{load, LoadError, LoadOptions, Loaded};
use std::collections::BTreeMap;

pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(files: &[(&str, &str)]) -> Project {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        Project { dir }
    }
    pub fn opts(&self, files: &[&str], env: &[(&str, &str)], profiles: &[&str]) -> LoadOptions {
        LoadOptions {
            files: files.iter().map(|f| self.dir.path().join(f)).collect(),
            project_name: Some("demo".into()),
            profiles: profiles.iter().map(|s| s.to_string()).collect(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        }
    }
    pub fn load(&self, files: &[&str], env: &[(&str, &str)], profiles: &[&str]) -> Result<Loaded, LoadError> {
        load(&self.opts(files, env, profiles))
    }
    pub fn strip(&self, s: String) -> String {
        s.replace(&format!("{}/", self.dir.path().display()), "")
    }
}
