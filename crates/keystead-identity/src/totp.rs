//! Time-based one-time passwords (RFC 6238) as AWS virtual MFA devices use them: HMAC-SHA-1,
//! 30-second steps, 6 digits; and the RFC 4648 Base32 text in which their seeds are shown.

use keystead_crypto::digest::{constant_time_eq, hmac_sha1};

/// The length of one time step, in seconds.
pub const TOTP_STEP_SECONDS: u64 = 30;

/// How many digits a code has.
pub const TOTP_DIGITS: u32 = 6;

/// The HOTP value (RFC 4226) of `seed` at `counter`, truncated to `digits` decimal digits.
fn hotp(seed: &[u8], counter: u64, digits: u32) -> u32 {
    let mac = hmac_sha1(seed, &counter.to_be_bytes());
    let offset = usize::from(mac[19] & 0x0f);
    let binary = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// The time step that `unix_seconds` falls in.
pub fn totp_step(unix_seconds: u64) -> u64 {
    unix_seconds / TOTP_STEP_SECONDS
}

/// The 6-digit code of `seed` for time step `step`, zero-padded.
pub fn totp_code_at_step(seed: &[u8], step: u64) -> String {
    format_code(hotp(seed, step, TOTP_DIGITS), TOTP_DIGITS)
}

/// The 6-digit code of `seed` at `unix_seconds`.
pub fn totp_code(seed: &[u8], unix_seconds: u64) -> String {
    totp_code_at_step(seed, totp_step(unix_seconds))
}

fn format_code(value: u32, digits: u32) -> String {
    format!("{value:0width$}", width = digits as usize)
}

/// The step whose code `code` is, among the current step of `unix_seconds` and the one before
/// and after it (clock drift); `None` when it is none of them.
pub fn verify_totp(seed: &[u8], code: &str, unix_seconds: u64) -> Option<u64> {
    let now = totp_step(unix_seconds);
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .find(|&step| constant_time_eq(totp_code_at_step(seed, step).as_bytes(), code.as_bytes()))
}

/// Whether `code1` and `code2` are the codes of two consecutive steps, the second within one
/// step of `unix_seconds` (as EnableMFADevice requires). Returns the second code's step.
pub fn verify_consecutive(seed: &[u8], code1: &str, code2: &str, unix_seconds: u64) -> Option<u64> {
    let now = totp_step(unix_seconds);
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .filter(|&step| step > 0)
        .find(|&step| {
            let second =
                constant_time_eq(totp_code_at_step(seed, step).as_bytes(), code2.as_bytes());
            let first = constant_time_eq(
                totp_code_at_step(seed, step - 1).as_bytes(),
                code1.as_bytes(),
            );
            first & second
        })
}

/// `data` in RFC 4648 Base32 (upper case, `=`-padded), as AWS shows virtual MFA seeds.
pub fn base32_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    for chunk in data.chunks(5) {
        let mut block = [0u8; 5];
        block[..chunk.len()].copy_from_slice(chunk);
        let bits = block.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                let index = usize::try_from((bits >> (35 - 5 * i)) & 0x1f).unwrap_or(0);
                out.push(char::from(ALPHABET[index]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_6238_SHA1_SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn totp_matches_rfc_6238_appendix_b_sha1_vectors() {
        let vectors: [(u64, &str); 6] = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (time, expected) in vectors {
            let code = format_code(hotp(RFC_6238_SHA1_SEED, totp_step(time), 8), 8);
            assert_eq!(code, expected, "T = {time}");
        }
    }

    #[test]
    fn six_digit_codes_are_the_last_six_digits_of_the_rfc_values() {
        assert_eq!(totp_code(RFC_6238_SHA1_SEED, 59), "287082");
        assert_eq!(totp_code(RFC_6238_SHA1_SEED, 1_111_111_109), "081804");
    }

    #[test]
    fn verification_accepts_the_current_step_and_one_either_side() {
        let now = 1_234_567_890;
        for step in [totp_step(now) - 1, totp_step(now), totp_step(now) + 1] {
            let code = totp_code_at_step(RFC_6238_SHA1_SEED, step);
            assert_eq!(verify_totp(RFC_6238_SHA1_SEED, &code, now), Some(step));
        }
        let stale = totp_code_at_step(RFC_6238_SHA1_SEED, totp_step(now) - 2);
        assert_eq!(verify_totp(RFC_6238_SHA1_SEED, &stale, now), None);
        assert_eq!(verify_totp(RFC_6238_SHA1_SEED, "12345", now), None);
    }

    #[test]
    fn consecutive_codes_must_follow_each_other_in_order() {
        let now = 1_234_567_890;
        let step = totp_step(now);
        let c0 = totp_code_at_step(RFC_6238_SHA1_SEED, step - 1);
        let c1 = totp_code_at_step(RFC_6238_SHA1_SEED, step);
        let c3 = totp_code_at_step(RFC_6238_SHA1_SEED, step + 2);
        assert_eq!(
            verify_consecutive(RFC_6238_SHA1_SEED, &c0, &c1, now),
            Some(step)
        );
        assert_eq!(verify_consecutive(RFC_6238_SHA1_SEED, &c1, &c0, now), None);
        assert_eq!(verify_consecutive(RFC_6238_SHA1_SEED, &c1, &c1, now), None);
        assert_eq!(verify_consecutive(RFC_6238_SHA1_SEED, &c0, &c3, now), None);
    }

    #[test]
    fn base32_matches_rfc_4648_vectors() {
        assert_eq!(base32_encode(b""), "");
        assert_eq!(base32_encode(b"f"), "MY======");
        assert_eq!(base32_encode(b"fo"), "MZXQ====");
        assert_eq!(base32_encode(b"foo"), "MZXW6===");
        assert_eq!(base32_encode(b"foob"), "MZXW6YQ=");
        assert_eq!(base32_encode(b"fooba"), "MZXW6YTB");
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI======");
        assert_eq!(base32_encode(&[0u8; 20]).len(), 32);
    }
}
