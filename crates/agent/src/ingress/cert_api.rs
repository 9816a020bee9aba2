//! The CLI's certificate endpoints: `roost ca export`, `roost acme set|show`.

use crate::api::ApiError;
use crate::Agent;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use roost_api::{AcmeResolverRow, AcmeSetRequest, CaResponse};
use roost_certs::{AcmeAccount, AcmeConfig, Timeouts};
use roost_cluster::ingress::{AcmeResolver, AcmeSettings, IngressCommand};
use roost_cluster::types::Command;
use roost_routes::route::DEFAULT_RESOLVER;
use std::sync::Arc;
use std::time::Duration;

pub fn routes() -> Router<Arc<Agent>> {
    Router::new()
        .route("/v1/ingress/ca", get(ca))
        .route("/v1/ingress/acme", get(show))
        .route("/v1/ingress/acme/{resolver}", put(set))
}

async fn ca(State(agent): State<Arc<Agent>>) -> Result<Json<CaResponse>, ApiError> {
    let cert_pem = super::certs::ingress_ca_pem(&agent).await.map_err(|e| match e.downcast::<roost_cluster::node::WriteError>() {
        Ok(write) => ApiError::from(write),
        Err(e) => ApiError::internal(format!("cannot make the ingress CA: {e:#}")),
    })?;
    Ok(Json(CaResponse { cert_pem }))
}

fn row(acme: &AcmeSettings, name: &str) -> AcmeResolverRow {
    let (account_of, settings) = super::need::effective(acme, name);
    AcmeResolverRow {
        name: name.to_owned(),
        directory: settings.directory,
        configured: acme.resolvers.contains_key(name),
        emails: settings.contact.iter().map(|c| c.trim_start_matches("mailto:").to_owned()).collect(),
        custom_root: settings.root_ca_pem.is_some(),
        account: acme.accounts.contains_key(&account_of),
    }
}

/// Every configured resolver, and `default` even when it is not (it is Let's Encrypt).
async fn show(State(agent): State<Arc<Agent>>) -> Json<Vec<AcmeResolverRow>> {
    let acme = agent.cluster.state().acme;
    let mut names: Vec<&str> = acme.resolvers.keys().map(String::as_str).collect();
    if !acme.resolvers.contains_key(DEFAULT_RESOLVER) {
        names.insert(0, DEFAULT_RESOLVER);
    }
    Json(names.into_iter().map(|n| row(&acme, n)).collect())
}

/// Checks the settings, registers an account with the CA (which proves the URL, the
/// root and the contacts work), then stores both. A refusal changes nothing.
async fn set(
    State(agent): State<Arc<Agent>>,
    Path(name): Path<String>,
    body: Result<Json<AcmeSetRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<AcmeResolverRow>, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request(format!("invalid request: {}", e.body_text())))?;
    check_name(&name).map_err(ApiError::bad_request)?;
    check_directory(&req.directory).map_err(ApiError::bad_request)?;
    let contact = req.emails.iter().map(|e| contact(e)).collect::<Result<Vec<_>, _>>().map_err(ApiError::bad_request)?;
    let resolver = AcmeResolver { directory: req.directory.clone(), contact, root_ca_pem: req.root_ca_pem.clone() };
    let config = AcmeConfig {
        resolver: name.clone(),
        directory: resolver.directory.clone(),
        extra_root_pem: resolver.root_ca_pem.clone(),
        contact: resolver.contact.clone(),
        // The CLI waits for this: fail within a minute rather than hang.
        timeouts: Timeouts { connect: Duration::from_secs(10), request: Duration::from_secs(20), ..Timeouts::default() },
    };
    let (_, account) = AcmeAccount::create(&config).await.map_err(|e| {
        ApiError::bad_request(format!("cannot register an ACME account: {e}\nnothing was changed (check the URL, and --root-ca for a private CA)"))
    })?;
    let command = IngressCommand::SetAcmeResolver { name: name.clone(), resolver, account: Some(account) };
    agent.cluster.write(Command::Ingress(command)).await?;
    Ok(Json(row(&agent.cluster.state().acme, &name)))
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    ok.then_some(()).ok_or_else(|| format!("`{name}` is not a resolver name: use letters, digits, '-', '_' and '.'"))
}

/// An ACME directory is an https URL with a host (RFC 8555 requires HTTPS).
pub(crate) fn check_directory(url: &str) -> Result<(), String> {
    let hint = "use the https URL of an ACME directory, e.g. https://acme-v02.api.letsencrypt.org/directory";
    if !url.starts_with("https://") {
        return Err(format!("`{url}` is not an https URL: {hint}"));
    }
    let uri: axum::http::Uri = url.parse().map_err(|e| format!("`{url}` is not a URL ({e}): {hint}"))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("`{url}` names no host: {hint}"));
    }
    Ok(())
}

/// `ops@example.com` (or `mailto:ops@example.com`) → `mailto:ops@example.com`.
fn contact(email: &str) -> Result<String, String> {
    let address = email.trim().trim_start_matches("mailto:");
    match address.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') && !address.contains(char::is_whitespace) => {
            Ok(format!("mailto:{address}"))
        }
        _ => Err(format!("`{email}` is not an e-mail address")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_must_be_https_urls_with_a_host() {
        check_directory("https://127.0.0.1:14000/dir").unwrap();
        check_directory(roost_certs::LETS_ENCRYPT).unwrap();
        for bad in ["http://acme.example.com/dir", "acme.example.com/dir", "https://", "not a url", ""] {
            let err = check_directory(bad).unwrap_err();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn emails_become_mailto_contacts() {
        assert_eq!(contact("ops@example.com").unwrap(), "mailto:ops@example.com");
        assert_eq!(contact("mailto:ops@example.com").unwrap(), "mailto:ops@example.com");
        for bad in ["ops", "@example.com", "ops@localhost", "o ps@example.com"] {
            assert!(contact(bad).is_err(), "{bad}");
        }
        assert!(check_name("default").is_ok() && check_name("le-prod_2").is_ok());
        assert!(check_name("a/b").is_err() && check_name("").is_err());
    }
}
