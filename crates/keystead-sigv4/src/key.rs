//! Signing keys: derivation from a secret access key and scope, and [`SigningKeyCache`], which
//! spares the four HMACs of a derivation on every request after a key's first of the day.
//!
//! ```text
//! k-date    = HMAC-SHA256("AWS4" || secret, DATE)
//! k-region  = HMAC-SHA256(k-date, REGION)
//! k-service = HMAC-SHA256(k-region, SERVICE)
//! k-signing = HMAC-SHA256(k-service, "aws4_request")
//! ```
//!
//! Every intermediate value is zeroized when dropped. The cache never holds a secret access
//! key, only derived keys (each valid for one day, region and service) and SHA-256 fingerprints
//! of the secrets they came from.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use keystead_crypto::digest::{constant_time_eq, hmac_sha256, sha256};
use zeroize::Zeroizing;

use crate::TERMINATOR;

/// A derived SigV4 signing key. Zeroized on drop.
pub(crate) type SigningKey = Zeroizing<[u8; 32]>;

/// Derives the signing key for `secret` and the scope `date/region/service/aws4_request`.
pub(crate) fn derive_signing_key(
    secret: &[u8],
    date: &str,
    region: &str,
    service: &str,
) -> SigningKey {
    let mut k_secret = Zeroizing::new(Vec::with_capacity(4 + secret.len()));
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret);
    let k_date = Zeroizing::new(hmac_sha256(&k_secret, date.as_bytes()));
    let k_region = Zeroizing::new(hmac_sha256(&*k_date, region.as_bytes()));
    let k_service = Zeroizing::new(hmac_sha256(&*k_region, service.as_bytes()));
    Zeroizing::new(hmac_sha256(&*k_service, TERMINATOR.as_bytes()))
}

/// A bounded, thread-safe cache of derived signing keys, keyed by access key id, date, region
/// and service, and bound to the secret they were derived from (a lookup with another secret is
/// a miss). Share one per server, for example in an `Arc`, and pass it to
/// [`SignedRequest::verify_with_cache`](crate::SignedRequest::verify_with_cache).
///
/// When full, inserting evicts an arbitrary entry: keys change daily, so the working set is one
/// entry per active access key and region.
pub struct SigningKeyCache {
    entries: Mutex<HashMap<u64, Entry>>,
    hasher: RandomState,
    capacity: usize,
}

struct Entry {
    access_key_id: Box<str>,
    /// `DATE/REGION/SERVICE`.
    scope: Box<str>,
    secret_fingerprint: [u8; 32],
    key: SigningKey,
}

impl SigningKeyCache {
    /// The capacity of [`SigningKeyCache::default`].
    pub const DEFAULT_CAPACITY: usize = 4096;

    /// An empty cache holding at most `capacity` keys (0 disables caching).
    pub fn new(capacity: usize) -> Self {
        SigningKeyCache {
            entries: Mutex::new(HashMap::new()),
            hasher: RandomState::new(),
            capacity,
        }
    }

    /// How many keys are cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is cached.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Drops every cached key, for example after access keys were deleted.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The signing key for the scope, from the cache or freshly derived (and then cached).
    pub(crate) fn signing_key(
        &self,
        access_key_id: &str,
        secret: &[u8],
        date: &str,
        region: &str,
        service: &str,
    ) -> SigningKey {
        if self.capacity == 0 {
            return derive_signing_key(secret, date, region, service);
        }
        let slot = self.hasher.hash_one((access_key_id, date, region, service));
        let fingerprint = sha256(secret);
        let matches = |entry: &Entry| {
            &*entry.access_key_id == access_key_id
                && scope_matches(&entry.scope, date, region, service)
                && constant_time_eq(&entry.secret_fingerprint, &fingerprint)
        };
        if let Some(entry) = self.lock().get(&slot).filter(|entry| matches(entry)) {
            return entry.key.clone();
        }
        // Derive outside the lock: it is the expensive part.
        let key = derive_signing_key(secret, date, region, service);
        let mut entries = self.lock();
        let victim = if entries.len() >= self.capacity && !entries.contains_key(&slot) {
            entries.keys().next().copied()
        } else {
            None
        };
        if let Some(victim) = victim {
            entries.remove(&victim);
        }
        entries.insert(
            slot,
            Entry {
                access_key_id: access_key_id.into(),
                scope: format!("{date}/{region}/{service}").into(),
                secret_fingerprint: fingerprint,
                key: key.clone(),
            },
        );
        key
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        // A panic while holding the lock cannot leave an entry half-written (entries are
        // replaced whole), so a poisoned map is still consistent.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        SigningKeyCache::new(Self::DEFAULT_CAPACITY)
    }
}

impl fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

fn scope_matches(scope: &str, date: &str, region: &str, service: &str) -> bool {
    let mut parts = scope.splitn(3, '/');
    parts.next() == Some(date) && parts.next() == Some(region) && parts.next() == Some(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    #[test]
    fn derivation_matches_the_aws_documentation_example() {
        // "Deriving the signing key" example of the AWS General Reference (iam, 20150830).
        let key = derive_signing_key(SECRET, "20150830", "us-east-1", "iam");
        assert_eq!(
            hex::encode(*key),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn cached_keys_equal_derived_keys_and_are_reused() {
        let cache = SigningKeyCache::new(8);
        let first = cache.signing_key("AKID", SECRET, "20150830", "us-east-1", "kms");
        assert_eq!(
            *first,
            *derive_signing_key(SECRET, "20150830", "us-east-1", "kms")
        );
        assert_eq!(cache.len(), 1);
        let again = cache.signing_key("AKID", SECRET, "20150830", "us-east-1", "kms");
        assert_eq!(*again, *first);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_cached_key_is_not_returned_for_another_secret_or_scope() {
        let cache = SigningKeyCache::new(8);
        cache.signing_key("AKID", SECRET, "20150830", "us-east-1", "kms");
        let other = cache.signing_key("AKID", b"another secret", "20150830", "us-east-1", "kms");
        assert_eq!(
            *other,
            *derive_signing_key(b"another secret", "20150830", "us-east-1", "kms")
        );
        let next_day = cache.signing_key("AKID", SECRET, "20150831", "us-east-1", "kms");
        assert_eq!(
            *next_day,
            *derive_signing_key(SECRET, "20150831", "us-east-1", "kms")
        );
    }

    #[test]
    fn the_cache_never_grows_past_its_capacity() {
        let cache = SigningKeyCache::new(3);
        for i in 0..10 {
            cache.signing_key(&format!("AKID{i}"), SECRET, "20150830", "us-east-1", "kms");
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.len(), 3);
        cache.clear();
        assert!(cache.is_empty());
        let disabled = SigningKeyCache::new(0);
        disabled.signing_key("AKID", SECRET, "20150830", "us-east-1", "kms");
        assert!(disabled.is_empty());
    }
}
