//! One HTTP-01 order, from creation to the PEM chain.

use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewOrder, Order, OrderStatus,
    RetryPolicy,
};
use rcgen::{CertificateParams, DistinguishedName, KeyPair};

use super::Timeouts;
use crate::error::{acme_detail, problem_detail};
use crate::hosts;
use crate::{CertError, ChallengeSink};

/// Runs the order for `hosts` (already checked) and returns (chain PEM, key
/// PEM). Every token handed to `sink` is pushed to `published` first, so the
/// caller removes them even when this future is dropped by its timeout.
pub(super) async fn run(
    account: &Account,
    hosts: &[String],
    sink: &dyn ChallengeSink,
    timeouts: &Timeouts,
    published: &mut Vec<String>,
) -> Result<(String, String), CertError> {
    let list = hosts::list(hosts);
    let failed = |step: &'static str| {
        let hosts = list.clone();
        move |e: instant_acme::Error| CertError::Order {
            hosts,
            step,
            detail: match e {
                instant_acme::Error::Timeout(_) => {
                    format!("the CA did not finish within {:?}", timeouts.validation)
                }
                e => acme_detail(&e),
            },
        }
    };
    let identifiers: Vec<Identifier> = hosts.iter().map(|h| Identifier::Dns(h.clone())).collect();
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(failed("create the order"))?;

    publish_and_ready(&mut order, sink, published, &list).await?;

    let polling = RetryPolicy::new().timeout(timeouts.validation);
    let status = match order.poll_ready(&polling).await {
        Ok(status) => status,
        // The CA puts an order's problem on the order too; the host's own
        // problem on its authorization says more, so look there first.
        Err(instant_acme::Error::Api(problem)) => {
            return Err(invalid_authorization(&mut order)
                .await
                .unwrap_or_else(|| failed("get validated")(instant_acme::Error::Api(problem))))
        }
        Err(e) => return Err(failed("get validated")(e)),
    };
    if status != OrderStatus::Ready {
        return Err(invalid_authorization(&mut order)
            .await
            .unwrap_or_else(|| CertError::Order {
                hosts: list.clone(),
                step: "get validated",
                detail: format!("the order is {status:?}"),
            }));
    }

    let key = KeyPair::generate().map_err(|source| CertError::Generate {
        what: format!("generate the key for {list}"),
        source,
    })?;
    let csr = csr(hosts, &key).map_err(|source| CertError::Generate {
        what: format!("create the certificate request for {list}"),
        source,
    })?;
    order.finalize_csr(&csr).await.map_err(failed("finalize"))?;
    let chain = order
        .poll_certificate(&polling)
        .await
        .map_err(failed("download the certificate"))?;
    Ok((chain, key.serialize_pem()))
}

/// Publishes the answer of every pending authorization, then tells the CA it
/// may validate. Authorizations the account already holds (valid) are skipped.
async fn publish_and_ready(
    order: &mut Order,
    sink: &dyn ChallengeSink,
    published: &mut Vec<String>,
    list: &str,
) -> Result<(), CertError> {
    let mut authorizations = order.authorizations();
    while let Some(authorization) = authorizations.next().await {
        let mut authorization = authorization.map_err(|e| CertError::Order {
            hosts: list.to_owned(),
            step: "fetch an authorization",
            detail: acme_detail(&e),
        })?;
        let host = authorization.identifier().to_string();
        match authorization.status {
            AuthorizationStatus::Valid => continue,
            AuthorizationStatus::Pending => {}
            other => {
                return Err(CertError::Validation {
                    host,
                    detail: format!("the authorization is already {other:?}"),
                })
            }
        }
        let Some(mut challenge) = authorization.challenge(ChallengeType::Http01) else {
            return Err(CertError::NoHttpChallenge { host });
        };
        let token = challenge.token.clone();
        let key_authorization = challenge.key_authorization();
        published.push(token.clone());
        sink.set(&token, key_authorization.as_str())
            .await
            .map_err(|source| CertError::Sink {
                host: host.clone(),
                source,
            })?;
        challenge
            .set_ready()
            .await
            .map_err(|e| CertError::Validation {
                host,
                detail: acme_detail(&e),
            })?;
    }
    Ok(())
}

/// The first invalid authorization of the order, as an error naming its host
/// and the CA's problem with its HTTP-01 challenge (what the CA fetched and
/// got, say). `None` if the CA reports none.
async fn invalid_authorization(order: &mut Order) -> Option<CertError> {
    let mut authorizations = order.authorizations();
    while let Some(authorization) = authorizations.next().await {
        let mut authorization = authorization.ok()?;
        // The cached state is the one from before validation.
        let state = authorization.refresh().await.ok()?;
        if state.status != AuthorizationStatus::Invalid {
            continue;
        }
        let detail = state
            .challenges
            .iter()
            .find_map(|c| c.error.as_ref())
            .map_or_else(|| "the authorization is invalid".to_owned(), problem_detail);
        return Some(CertError::Validation {
            host: state.identifier().to_string(),
            detail,
        });
    }
    None
}

/// A CSR for `hosts` as SANs. The subject stays empty: CAs take the names
/// from the SANs and ignore (Let's Encrypt) or reject odd common names.
fn csr(hosts: &[String], key: &KeyPair) -> Result<Vec<u8>, rcgen::Error> {
    let mut params = CertificateParams::new(hosts.to_vec())?;
    params.distinguished_name = DistinguishedName::new();
    Ok(params.serialize_request(key)?.der().to_vec())
}
