//! Random bytes from aws-lc's `SystemRandom`: the workspace's one source of randomness for keys,
//! nonces, data keys and `GenerateRandom`. Nothing else in keystead may read an RNG.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::Error;

/// `n` random bytes, zeroized when dropped: for `GenerateRandom` and data keys.
pub fn random_bytes(n: usize) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut out = Zeroizing::new(vec![0u8; n]);
    fill(&mut out)?;
    Ok(out)
}

/// `N` random bytes in an array, zeroized when dropped. For values that are not secret (nonces,
/// identifiers) copy them out with `*array`.
pub fn random_array<const N: usize>() -> Result<Zeroizing<[u8; N]>, Error> {
    let mut out = Zeroizing::new([0u8; N]);
    fill(&mut *out)?;
    Ok(out)
}

/// Fills `buf` with random bytes.
pub(crate) fn fill(buf: &mut [u8]) -> Result<(), Error> {
    SystemRandom::new().fill(buf)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_have_the_requested_length_and_differ() {
        let a = random_bytes(32).expect("rng");
        let b = random_bytes(32).expect("rng");
        assert_eq!(a.len(), 32);
        assert_ne!(*a, *b);
        assert!(random_bytes(0).expect("rng").is_empty());
        assert_eq!(random_bytes(1024).expect("rng").len(), 1024);
    }

    #[test]
    fn random_arrays_differ() {
        let a = random_array::<16>().expect("rng");
        let b = random_array::<16>().expect("rng");
        assert_ne!(*a, *b);
    }
}
