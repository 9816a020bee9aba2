//! Host names going into certificates: checked and put in one canonical form
//! before anything is signed or ordered, so a typo fails here with its name
//! rather than as a CA's cryptic refusal.

use std::net::IpAddr;

use crate::CertError;

/// Who will sign: the internal CA signs anything a client can be told to
/// trust (wildcards, IP addresses); HTTP-01 can prove neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signer {
    Internal,
    Acme,
}

/// The form names are compared and stored in: lower case, no trailing dot
/// (`App.Example.com.` and `app.example.com` are one name to DNS and TLS).
pub(crate) fn canonical(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// `hosts` checked and canonical, duplicates dropped, order kept (the first
/// becomes the certificate's common name).
///
/// # Errors
/// [`CertError::NoHosts`] for an empty list, [`CertError::Host`] naming the
/// first name that cannot be certified by `signer`.
pub(crate) fn normalize(hosts: &[String], signer: Signer) -> Result<Vec<String>, CertError> {
    let mut out: Vec<String> = Vec::with_capacity(hosts.len());
    for host in hosts {
        let name = canonical(host);
        check(&name, signer).map_err(|reason| CertError::Host {
            host: host.clone(),
            reason,
        })?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    if out.is_empty() {
        return Err(CertError::NoHosts);
    }
    Ok(out)
}

/// The hosts for messages: `a.example.com, b.example.com`.
pub(crate) fn list(hosts: &[String]) -> String {
    hosts.join(", ")
}

fn check(name: &str, signer: Signer) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("the name is empty");
    }
    if name.parse::<IpAddr>().is_ok() {
        return match signer {
            Signer::Internal => Ok(()),
            Signer::Acme => Err("roost orders ACME certificates for DNS names only"),
        };
    }
    let rest = match name.strip_prefix("*.") {
        Some(_) if signer == Signer::Acme => {
            return Err("ACME HTTP-01 cannot validate wildcard names (that needs DNS-01)")
        }
        Some(rest) => rest,
        None => name,
    };
    if name.len() > 253 {
        return Err("the name is longer than 253 characters");
    }
    for label in rest.split('.') {
        if label.is_empty() {
            return Err("the name has an empty label (two dots in a row?)");
        }
        if label.len() > 63 {
            return Err("a label is longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("only letters, digits, '-' and '.' are allowed (international names in punycode, xn--...)");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label starts or ends with '-'");
        }
    }
    Ok(())
}

/// Whether a certificate for `cert_name` (exact or `*.parent`) serves `host`
/// (canonical). A wildcard covers one level only, as TLS clients check it.
pub(crate) fn name_covers(cert_name: &str, host: &str) -> bool {
    let cert_name = canonical(cert_name);
    if cert_name == host {
        return true;
    }
    match (cert_name.strip_prefix("*."), host.split_once('.')) {
        (Some(parent), Some((first, rest))) => !first.is_empty() && rest == parent,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn names_are_lowercased_deduplicated_and_keep_their_order() {
        let out = normalize(
            &names(&["B.example.com.", "a.example.com", "b.example.com"]),
            Signer::Acme,
        )
        .unwrap();
        assert_eq!(out, names(&["b.example.com", "a.example.com"]));
    }

    #[test]
    fn acme_refuses_wildcards_and_addresses_the_internal_ca_signs_them() {
        for host in ["*.example.com", "192.168.1.10", "::1"] {
            let err = normalize(&names(&[host]), Signer::Acme).unwrap_err();
            assert!(err.to_string().contains(host), "{err}");
            normalize(&names(&[host]), Signer::Internal).unwrap();
        }
    }

    #[test]
    fn malformed_names_are_refused_with_the_name() {
        for host in [
            "",
            "a..b",
            "-a.lan",
            "a_b.lan",
            "ü.lan",
            "a.*.lan",
            "https://a.lan",
        ] {
            let err = normalize(&names(&["ok.lan", host]), Signer::Internal).unwrap_err();
            assert!(err.to_string().contains(&format!("{host:?}")), "{err}");
        }
        assert!(matches!(
            normalize(&[], Signer::Internal),
            Err(CertError::NoHosts)
        ));
    }

    #[test]
    fn a_wildcard_covers_exactly_one_level() {
        assert!(name_covers("*.Example.com", "a.example.com"));
        assert!(!name_covers("*.example.com", "a.b.example.com"));
        assert!(!name_covers("*.example.com", "example.com"));
        assert!(name_covers("example.com.", "example.com"));
    }
}
