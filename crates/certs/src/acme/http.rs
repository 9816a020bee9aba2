//! The ACME client's HTTP stack, built here rather than left to instant-acme:
//! rustls with the ring provider (instant-acme's own client would take the
//! process default, and its default features pull in aws-lc-rs), Mozilla's
//! roots plus an optional extra one (a test or private CA such as pebble's),
//! and a bound on every exchange, body included.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::Timeouts;
use crate::CertError;

/// ACME answers are JSON documents and PEM chains of a few kilobytes; a
/// megabyte is plenty and keeps a broken server from filling memory.
const MAX_BODY: usize = 1 << 20;

/// An [`HttpClient`] with roost's TLS settings and timeouts.
pub(crate) struct AcmeHttp {
    client: Client<HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>,
    request_timeout: Duration,
}

impl AcmeHttp {
    /// A client trusting Mozilla's roots (compiled in, so a host without a CA
    /// bundle still reaches Let's Encrypt) and the certificates in
    /// `extra_root_pem`.
    ///
    /// # Errors
    /// [`CertError::Pem`] if `extra_root_pem` holds no usable certificate,
    /// [`CertError::Tls`] if rustls refuses the configuration.
    pub(crate) fn new(
        extra_root_pem: Option<&str>,
        timeouts: &Timeouts,
    ) -> Result<Self, CertError> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(pem) = extra_root_pem {
            let extra = CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| extra_root_error(e.to_string()))?;
            if extra.is_empty() {
                return Err(extra_root_error("no certificate in the PEM".into()));
            }
            for cert in extra {
                roots
                    .add(cert)
                    .map_err(|e| extra_root_error(e.to_string()))?;
            }
        }
        let tls = ClientConfig::builder_with_provider(roost_pki::provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(timeouts.connect));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .wrap_connector(tcp);
        Ok(AcmeHttp {
            client: Client::builder(TokioExecutor::new()).build(connector),
            request_timeout: timeouts.request,
        })
    }
}

impl HttpClient for AcmeHttp {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let response = self.client.request(req);
        let limit = self.request_timeout;
        Box::pin(async move {
            // The body is read here, within the bound, rather than later by
            // instant-acme where no timeout applies.
            let exchange = async {
                let (parts, body) = response
                    .await
                    .map_err(|e| instant_acme::Error::Other(Box::new(e)))?
                    .into_parts();
                let body = Limited::new(body, MAX_BODY)
                    .collect()
                    .await
                    .map_err(instant_acme::Error::Other)?
                    .to_bytes();
                Ok(BytesResponse::from(Response::from_parts(
                    parts,
                    Full::new(body),
                )))
            };
            tokio::time::timeout(limit, exchange)
                .await
                .unwrap_or_else(|_| {
                    Err(instant_acme::Error::Other(
                        format!("no complete answer within {limit:?}").into(),
                    ))
                })
        })
    }
}

fn extra_root_error(reason: String) -> CertError {
    CertError::Pem {
        what: "extra ACME root CA",
        reason,
    }
}
