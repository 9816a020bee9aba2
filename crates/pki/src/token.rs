//! Join tokens.
//!
//! A token is `ROOST1-<CA fingerprint>-<secret>`, in the style of Docker
//! Swarm: the CA fingerprint (64 hex characters, SHA-256 of the cluster CA
//! certificate) lets the joiner verify it is talking to the right cluster
//! before sending anything; the secret (32 hex characters, 128 random bits)
//! lets the cluster verify the joiner. The cluster stores only the secret's
//! SHA-256, so a leaked Raft log or snapshot does not leak usable tokens.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

use crate::{PkiError, TokenError};

/// Version prefix of the current token format, including its separator.
const PREFIX: &str = "ROOST1-";
/// Length of the CA fingerprint part (hex SHA-256).
const FINGERPRINT_LEN: usize = 64;
/// Length of the secret part (hex of 16 random bytes).
const SECRET_LEN: usize = 32;

/// A parsed or freshly generated join token.
///
/// `Debug` hides the secret; `Display` prints the full token (that is its
/// purpose: to be shown once to the operator).
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken {
    /// Lowercase hex SHA-256 of the cluster CA certificate (64 characters).
    pub ca_fingerprint: String,
    /// Lowercase hex secret (32 characters).
    pub secret: String,
}

impl JoinToken {
    /// Creates a token for the cluster whose CA has `ca_fingerprint`, with a
    /// fresh secret from the operating system's random number generator.
    ///
    /// # Panics
    /// If the operating system provides no randomness at all (neither
    /// getrandom nor `/proc/sys/kernel/random/uuid`): a token made without
    /// randomness would be guessable, so there is no safe fallback.
    pub fn generate(ca_fingerprint: &str) -> JoinToken {
        let secret = match random_bytes::<16>() {
            Ok(bytes) => hex::encode(bytes),
            Err(_) => proc_uuid_secret()
                .expect("no randomness available from getrandom or /proc/sys/kernel/random/uuid"),
        };
        JoinToken {
            ca_fingerprint: ca_fingerprint.to_ascii_lowercase(),
            secret,
        }
    }

    /// Parses a token as typed or pasted by a person. Surrounding whitespace
    /// is ignored and hex digits may be upper case; the result is normalized
    /// to lower case.
    ///
    /// # Errors
    /// A [`TokenError`] saying what is wrong: empty, not a roost token, an
    /// unsupported version, truncated, too long, or not hexadecimal.
    pub fn parse(s: &str) -> Result<JoinToken, TokenError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(TokenError::Empty);
        }
        let Some(rest) = s.strip_prefix(PREFIX) else {
            if PREFIX.starts_with(s) {
                return Err(TokenError::Truncated(
                    "it ends inside the ROOST1- prefix".into(),
                ));
            }
            if let Some((version, _)) = s.split_once('-') {
                let digits = version.strip_prefix("ROOST").unwrap_or("");
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(TokenError::Version(version.to_owned()));
                }
            }
            return Err(TokenError::NotAToken);
        };
        let mut parts = rest.split('-');
        let fingerprint = parts.next().unwrap_or("");
        let secret = parts.next();
        if parts.next().is_some() {
            return Err(TokenError::Malformed(
                "it has more than three '-' separated parts",
            ));
        }
        check_part(fingerprint, FINGERPRINT_LEN, "CA fingerprint")?;
        let Some(secret) = secret else {
            return Err(TokenError::Truncated(
                "the secret after the CA fingerprint is missing".into(),
            ));
        };
        check_part(secret, SECRET_LEN, "secret")?;
        Ok(JoinToken {
            ca_fingerprint: fingerprint.to_ascii_lowercase(),
            secret: secret.to_ascii_lowercase(),
        })
    }

    /// Lowercase hex SHA-256 of the secret: what the cluster stores and later
    /// checks presented secrets against with [`secret_matches`].
    pub fn secret_hash(&self) -> String {
        hash_secret(&self.secret)
    }
}

impl fmt::Display for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}-{}", self.ca_fingerprint, self.secret)
    }
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinToken")
            .field("ca_fingerprint", &self.ca_fingerprint)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// Whether `secret` hashes to `stored_hash` (as made by
/// [`JoinToken::secret_hash`]). The comparison takes the same time wherever
/// the first difference is, so response timing does not reveal how much of a
/// guessed secret's hash was right.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    let computed = hash_secret(&secret.to_ascii_lowercase());
    let stored = stored_hash.to_ascii_lowercase();
    if computed.len() != stored.len() {
        return false;
    }
    computed
        .bytes()
        .zip(stored.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Checks one hex part of a token: hex first (so a typo is reported as such),
/// then length (short means cut off while copying, long means malformed).
fn check_part(part: &str, len: usize, what: &'static str) -> Result<(), TokenError> {
    if !part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TokenError::BadHex(what));
    }
    match part.len() {
        n if n < len => Err(TokenError::Truncated(format!(
            "the {what} has {n} of {len} characters"
        ))),
        n if n > len => Err(TokenError::Malformed(if what == "secret" {
            "the secret is longer than 32 characters"
        } else {
            "the CA fingerprint is longer than 64 characters"
        })),
        _ => Ok(()),
    }
}

/// `N` bytes from the operating system's CSPRNG (getrandom), via ring.
///
/// # Errors
/// [`PkiError::Random`] if the operating system refuses.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], PkiError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PkiError::Random)?;
    Ok(bytes)
}

/// Fallback secret: the hex digits of two kernel UUIDs (each carries 122
/// random bits), hashed and cut to the secret length.
fn proc_uuid_secret() -> Option<String> {
    let mut hasher = Sha256::new();
    for _ in 0..2 {
        let uuid = std::fs::read_to_string("/proc/sys/kernel/random/uuid").ok()?;
        hasher.update(uuid.trim().as_bytes());
    }
    let mut secret = hex::encode(hasher.finalize());
    secret.truncate(SECRET_LEN);
    Some(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_uuid_fallback_has_the_right_shape() {
        if let Some(s) = proc_uuid_secret() {
            assert_eq!(s.len(), SECRET_LEN);
            assert!(s.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
}

/// A new random secret of 32 bytes, hex: the volume repositories' password, say.
///
/// # Errors
/// The operating system gave no randomness.
pub fn random_secret() -> Result<String, PkiError> {
    random_bytes::<32>().map(hex::encode)
}
