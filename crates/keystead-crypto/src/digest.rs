//! Digests and MACs for protocols (SigV4, audit chains, TOTP): SHA-256 (whole or streamed),
//! HMAC-SHA-256, HMAC-SHA-1 (for RFC 6238 one-time codes only) and a constant-time comparison. None of these handle key material of KMS keys.

use aws_lc_rs::{constant_time, digest, hmac};

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// HMAC-SHA-256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    let tag = hmac::sign(&k, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// HMAC-SHA-1 of `data` under `key`. Only for protocols that mandate it (RFC 6238 TOTP,
/// as AWS virtual MFA devices use); never for anything new.
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    let k = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = hmac::sign(&k, data);
    let mut out = [0u8; 20];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// SHA-256 over data fed in pieces: the same result as
/// [`sha256`] of their concatenation.
pub struct StreamingSha256 {
    context: digest::Context,
}

impl StreamingSha256 {
    /// An empty hash.
    pub fn new() -> Self {
        Self {
            context: digest::Context::new(&digest::SHA256),
        }
    }

    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.context.update(data);
    }

    /// The SHA-256 of everything added.
    pub fn finish(self) -> [u8; 32] {
        let d = self.context.finish();
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }
}

impl Default for StreamingSha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for StreamingSha256 {
    fn clone(&self) -> Self {
        Self {
            context: self.context.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_fips_180_2_vector() {
        // FIPS 180-2, appendix B.1: "abc".
        assert_eq!(
            sha256(b"abc"),
            [
                0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
                0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
                0xf2, 0x00, 0x15, 0xad
            ]
        );
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn hmac_sha1_matches_rfc_2202_case_2() {
        let mac = hmac_sha1(b"Jefe", b"what do ya want for nothing?");
        let expected = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
