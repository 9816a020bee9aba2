//! Where HTTP-01 answers go while an order runs.

use crate::error::SinkError;

/// Publishes HTTP-01 answers so that whichever node the CA's validation
/// request reaches can give them: the agent writes them through Raft (every
/// node's proxy then answers `/.well-known/acme-challenge/<token>`), tests
/// put them in one proxy's `roost_proxy::Challenges`.
///
/// [`set`](ChallengeSink::set) must return only once the answer is served,
/// because the CA is told to validate right after; for the agent that is when
/// the Raft write is committed (and applied on the node that answers).
///
/// Implement it with [`async_trait`](crate::async_trait):
/// ```
/// use roost_certs::{async_trait, ChallengeSink, SinkError};
///
/// struct Log;
///
/// #[async_trait]
/// impl ChallengeSink for Log {
///     async fn set(&self, token: &str, key_authorization: &str) -> Result<(), SinkError> {
///         println!("{token} -> {key_authorization}");
///         Ok(())
///     }
///     async fn remove(&self, token: &str) -> Result<(), SinkError> {
///         println!("{token} done");
///         Ok(())
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait ChallengeSink: Send + Sync {
    /// Answer requests for `token` with `key_authorization` from now on.
    ///
    /// # Errors
    /// Whatever stopped the answer from being published; the order is then
    /// abandoned with [`crate::CertError::Sink`] naming the host.
    async fn set(&self, token: &str, key_authorization: &str) -> Result<(), SinkError>;

    /// Stop answering `token`: the order is over, whatever its outcome.
    ///
    /// # Errors
    /// Whatever stopped the removal; it is logged and otherwise ignored (a
    /// stale token answers nothing useful to anyone).
    async fn remove(&self, token: &str) -> Result<(), SinkError>;
}
