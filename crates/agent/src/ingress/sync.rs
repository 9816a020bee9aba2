//! Every node, leader or not: keeps its proxy's certificates and ACME challenge
//! answers equal to the replicated ones, checked every [`super::REFRESH`]. Nothing
//! is rebuilt while nothing changed.

use crate::Agent;
use roost_certs::StoredCert;
use roost_proxy::{CertStore, Challenges};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub async fn run(agent: Arc<Agent>) {
    let mut certs = BTreeMap::new();
    let mut challenges = BTreeMap::new();
    loop {
        // Compared in place; copied (and loaded) only when they changed.
        if let Some(new) = agent.cluster.with_state(|s| (s.certs != certs).then(|| s.certs.clone())) {
            load(&agent.ingress.certs, &new);
            certs = new;
        }
        if let Some(new) = agent.cluster.with_state(|s| (s.challenges != challenges).then(|| s.challenges.clone())) {
            answer(agent.ingress.proxy.challenges(), &challenges, &new);
            challenges = new;
        }
        tokio::time::sleep(super::REFRESH).await;
    }
}

/// The certificate each name is served with: where two certificates name one host,
/// the one valid longest, so every node picks the same.
pub fn by_name(certs: &BTreeMap<String, StoredCert>) -> BTreeMap<String, &StoredCert> {
    let mut names: BTreeMap<String, &StoredCert> = BTreeMap::new();
    for cert in certs.values() {
        for host in &cert.hosts {
            let slot = names.entry(host.clone()).or_insert(cert);
            if cert.not_after > slot.not_after {
                *slot = cert;
            }
        }
    }
    names
}

fn load(store: &CertStore, certs: &BTreeMap<String, StoredCert>) {
    let mut keys = HashMap::new();
    for (name, cert) in by_name(certs) {
        // A wildcard certificate is stored under `*.parent`, which is what the
        // store looks up for `x.parent`.
        match roost_proxy::certified_key_from_pem(&cert.chain_pem, &cert.key_pem) {
            Ok(key) => {
                keys.insert(name, key);
            }
            Err(e) => tracing::warn!("ingress: the replicated certificate for {name} cannot be served: {e}"),
        }
    }
    tracing::debug!(names = keys.len(), "ingress certificates loaded");
    store.replace_all(keys);
}

fn answer(proxy: &Challenges, old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) {
    for token in old.keys().filter(|t| !new.contains_key(*t)) {
        proxy.remove(token);
    }
    for (token, key_authorization) in new {
        proxy.set(token.clone(), key_authorization.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_name_gets_the_certificate_valid_longest() {
        let ca = roost_certs::IngressCa::generate().unwrap();
        let now = roost_certs::unix_now();
        let both = ca.issue(&["a.lan".into(), "b.lan".into()], now).unwrap();
        let later = ca.issue(&["a.lan".into()], now + 10).unwrap();
        let certs = BTreeMap::from([("a.lan".to_owned(), later.clone()), ("a.lan,b.lan".to_owned(), both.clone())]);
        let names = by_name(&certs);
        assert_eq!(names.len(), 2);
        assert_eq!(names["a.lan"], &later);
        assert_eq!(names["b.lan"], &both);
    }

    #[test]
    fn challenge_answers_follow_the_replicated_ones() {
        let proxy = Challenges::default();
        let one = BTreeMap::from([("t1".to_owned(), "t1.k".to_owned())]);
        answer(&proxy, &BTreeMap::new(), &one);
        assert_eq!(proxy.get("t1").as_deref(), Some("t1.k"));
        let two = BTreeMap::from([("t2".to_owned(), "t2.k".to_owned())]);
        answer(&proxy, &one, &two);
        assert_eq!(proxy.get("t1"), None);
        assert_eq!(proxy.get("t2").as_deref(), Some("t2.k"));
    }
}
