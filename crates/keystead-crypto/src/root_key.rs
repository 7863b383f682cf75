//! The root of trust: [`RootKey`], a 256-bit AES-GCM key kept in a key file, which seals every
//! piece of [`KeyMaterial`] and every other stored secret before it reaches storage.
//!
//! This module owns the key file's format and permissions and the sealed formats. It must not
//! let key bytes out: the root key has no accessor, and no error or debug output contains file
//! contents.
//!
//! Key file (one line, mode 0600 or stricter):
//! ```text
//! file = "keystead-root-key-v1:" 64*HEXDIG [LF]      ; 32 key bytes, either case accepted
//! ```
//! Sealed formats (AES-256-GCM under the root key, random 96-bit nonce):
//! ```text
//! sealed      = format (1 byte, 0x01) || nonce (12) || ciphertext || tag (16)
//! aad(key)    = "keystead/key-material/v1" || format || key_id (16) || key_version (u32 BE)
//! aad(secret) = "keystead/secret/v1" || format || label
//! ```

use std::path::Path;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce};
use keystead_types::KeyId;
use zeroize::Zeroizing;

use crate::Error;
use crate::key_file::{KeyFileError, KeyFileFormat, SECRET_LEN};
use crate::key_material::{
    KeyMaterial, NONCE_LEN, TAG_LEN, WrappedKey, aes_256_gcm_key, random_nonce,
};
use crate::random::fill;

/// The root key file; the `v1` in its prefix names this text form.
const KEY_FILE: KeyFileFormat = KeyFileFormat {
    prefix: b"keystead-root-key-v1:",
    no_prefix: "expected a line starting with keystead-root-key-v1:",
    wrong_length: "expected 64 hex digits (32 bytes) after keystead-root-key-v1:",
};
/// Length of the root key in bytes.
const KEY_LEN: usize = SECRET_LEN;

/// The format byte of sealed data: AES-256-GCM, 96-bit random nonce, 128-bit tag.
const SEALED_FORMAT_V1: u8 = 0x01;
/// Bytes sealed data adds to what it seals.
const SEALED_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;
/// AAD prefix binding sealed key material to its purpose.
const KEY_MATERIAL_PURPOSE: &[u8] = b"keystead/key-material/v1";
/// AAD prefix binding other sealed secrets to their purpose.
const SECRET_PURPOSE: &[u8] = b"keystead/secret/v1";
/// Length of the AAD of sealed key material.
const KEY_MATERIAL_AAD_LEN: usize = KEY_MATERIAL_PURPOSE.len() + 1 + 16 + 4;

/// The root key: seals key material and secrets for storage.
///
/// Only the prepared AES-256-GCM context is kept; the raw key bytes live in `Zeroizing` buffers
/// just long enough to build it (aws-lc wipes the context when it is freed). There is no
/// `Debug`, `Clone` or `Serialize`, and no way to read the key back.
pub struct RootKey {
    aead: LessSafeKey,
}

impl RootKey {
    /// Creates a new random root key and writes it to `path`, which must not exist.
    ///
    /// The file is created exclusively with mode 0600 set at open time (so it is never readable
    /// by others, even briefly), written as `keystead-root-key-v1:<64 hex digits>\n`, and synced
    /// together with its directory, so that a crash cannot lose a key that data was sealed under.
    /// If anything fails after the file was created, the file is removed again.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        fill(&mut *bytes)?;
        let key = Self::from_bytes(&bytes)?;
        KEY_FILE
            .create(path, &bytes)
            .map_err(|e| key_file_error(path, e))?;
        Ok(key)
    }

    /// Loads the root key from `path`.
    ///
    /// Refuses a file whose permissions grant group or others any access
    /// ([`Error::InsecurePermissions`]), that is not a regular file, or that is not exactly one
    /// line `keystead-root-key-v1:` followed by 64 hex digits ([`Error::MalformedRootKey`]).
    /// The mode is read from the opened file, so it is the mode of the file actually read.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let bytes = KEY_FILE.load(path).map_err(|e| key_file_error(path, e))?;
        Self::from_bytes(&bytes)
    }

    /// A random root key that exists only in memory: whatever it seals is lost when it is
    /// dropped. For tests, and for a server that persists nothing.
    pub fn ephemeral() -> Result<Self, Error> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        fill(&mut *bytes)?;
        Self::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8; KEY_LEN]) -> Result<Self, Error> {
        Ok(Self {
            aead: aes_256_gcm_key(bytes)?,
        })
    }

    /// Seals the material of version `version` of key `key_id` for storage.
    ///
    /// The key id and version are authenticated, so the result unseals only for them: a store
    /// that swapped two keys' rows, or two versions of one key, gets [`Error::Unseal`].
    pub fn seal(
        &self,
        material: &KeyMaterial,
        key_id: &KeyId,
        version: u32,
    ) -> Result<WrappedKey, Error> {
        let aad = key_material_aad(key_id, version);
        self.seal_with_nonce(random_nonce()?, &aad, material.bytes())
            .map(WrappedKey::from_bytes)
    }

    /// Unseals what [`RootKey::seal`] sealed for the same key id and version.
    pub fn unseal(
        &self,
        wrapped: &WrappedKey,
        key_id: &KeyId,
        version: u32,
    ) -> Result<KeyMaterial, Error> {
        let sealed = wrapped.as_bytes();
        if sealed.len() < SEALED_OVERHEAD {
            return Err(Error::Unseal {
                reason: "malformed",
            });
        }
        if sealed.len() != SEALED_OVERHEAD + KeyMaterial::LEN {
            return Err(Error::Unseal {
                reason: "wrong length",
            });
        }
        let aad = key_material_aad(key_id, version);
        // Decrypt straight into the final zeroizing array: no intermediate copy.
        let mut bytes = Zeroizing::new([0u8; KeyMaterial::LEN]);
        self.unseal_into(&aad, sealed, &mut *bytes)?;
        KeyMaterial::from_bytes(bytes)
    }

    /// Seals a secret that is not key material (a secret access key, a database password) for
    /// storage. `label` names what is sealed, for example `access-key/AKIA…`; it is
    /// authenticated, so the result unseals only with the same label.
    pub fn seal_secret(&self, secret: &[u8], label: &[u8]) -> Result<Vec<u8>, Error> {
        self.seal_with_nonce(random_nonce()?, &secret_aad(label), secret)
    }

    /// Unseals what [`RootKey::seal_secret`] sealed with the same label.
    pub fn unseal_secret(&self, sealed: &[u8], label: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let len = sealed
            .len()
            .checked_sub(SEALED_OVERHEAD)
            .ok_or(Error::Unseal {
                reason: "malformed",
            })?;
        let mut out = Zeroizing::new(vec![0u8; len]);
        self.unseal_into(&secret_aad(label), sealed, &mut out)?;
        Ok(out)
    }

    /// `format || nonce || AES-256-GCM(secret, aad) || tag`, in one allocation.
    fn seal_with_nonce(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        secret: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let capacity = SEALED_OVERHEAD
            .checked_add(secret.len())
            .ok_or(Error::PlaintextTooLong { len: secret.len() })?;
        let mut out = Vec::with_capacity(capacity);
        out.push(SEALED_FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(secret);
        let sealed = self.aead.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut out[1 + NONCE_LEN..],
        );
        match sealed {
            Ok(tag) => {
                out.extend_from_slice(tag.as_ref());
                Ok(out)
            }
            Err(e) => {
                // The buffer may still hold the secret in plaintext.
                zeroize::Zeroize::zeroize(&mut out);
                Err(e.into())
            }
        }
    }

    /// Checks the format byte of `sealed` and opens it into `out`, which must be exactly as long
    /// as the ciphertext.
    fn unseal_into(&self, aad: &[u8], sealed: &[u8], out: &mut [u8]) -> Result<(), Error> {
        let unseal_error = |reason| Error::Unseal { reason };
        let (&format, rest) = sealed.split_first().ok_or(unseal_error("malformed"))?;
        if format != SEALED_FORMAT_V1 {
            return Err(unseal_error("unsupported format"));
        }
        let (nonce, rest) = rest
            .split_first_chunk::<NONCE_LEN>()
            .ok_or(unseal_error("malformed"))?;
        let (ciphertext, tag) = rest
            .split_last_chunk::<TAG_LEN>()
            .ok_or(unseal_error("malformed"))?;
        if ciphertext.len() != out.len() {
            return Err(unseal_error("wrong length"));
        }
        self.aead
            .open_separate_gather(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                ciphertext,
                tag,
                out,
            )
            .map_err(|_| {
                // aws-lc may have written unauthenticated plaintext before failing.
                zeroize::Zeroize::zeroize(out);
                unseal_error("tag mismatch")
            })
    }
}

/// `"keystead/key-material/v1" || format || key_id || version (u32 BE)`.
fn key_material_aad(key_id: &KeyId, version: u32) -> [u8; KEY_MATERIAL_AAD_LEN] {
    let mut aad = [0u8; KEY_MATERIAL_AAD_LEN];
    let (purpose, rest) = aad.split_at_mut(KEY_MATERIAL_PURPOSE.len());
    purpose.copy_from_slice(KEY_MATERIAL_PURPOSE);
    rest[0] = SEALED_FORMAT_V1;
    rest[1..17].copy_from_slice(key_id.as_bytes());
    rest[17..21].copy_from_slice(&version.to_be_bytes());
    aad
}

/// `"keystead/secret/v1" || format || label`. The purpose has a fixed length, so the label needs
/// no length prefix, and it differs from the key-material purpose within its first 10 bytes, so
/// no label can make the two AADs equal.
fn secret_aad(label: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(SECRET_PURPOSE.len() + 1 + label.len());
    aad.extend_from_slice(SECRET_PURPOSE);
    aad.push(SEALED_FORMAT_V1);
    aad.extend_from_slice(label);
    aad
}

/// The root key's error for what went wrong with its file at `path`.
fn key_file_error(path: &Path, error: KeyFileError) -> Error {
    match error {
        KeyFileError::Exists => Error::RootKeyExists {
            path: path.to_owned(),
        },
        KeyFileError::Io { path, source } => Error::Io { path, source },
        KeyFileError::InsecurePermissions { mode } => Error::InsecurePermissions {
            path: path.to_owned(),
            mode,
        },
        KeyFileError::Malformed(reason) => Error::MalformedRootKey {
            path: path.to_owned(),
            reason,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    fn key_id() -> KeyId {
        KEY_ID.parse().expect("valid key id")
    }

    fn fixed_root_key() -> RootKey {
        let bytes: [u8; 32] = std::array::from_fn(|i| 0x40 + i as u8);
        RootKey::from_bytes(&bytes).expect("key")
    }

    fn fixed_material() -> KeyMaterial {
        KeyMaterial::from_bytes(Zeroizing::new(std::array::from_fn(|i| 0x80 + i as u8)))
            .expect("material")
    }

    fn fixed_nonce() -> [u8; NONCE_LEN] {
        std::array::from_fn(|i| 0x10 + i as u8)
    }

    fn write_key_file(dir: &Path, contents: &[u8], mode: u32) -> std::path::PathBuf {
        let path = dir.join("root.key");
        fs::write(&path, contents).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    #[test]
    fn a_created_root_key_has_mode_0600_and_loads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("root.key");
        let created = RootKey::create(&path).expect("create");
        let mode = fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let contents = fs::read(&path).expect("read");
        assert!(contents.starts_with(b"keystead-root-key-v1:"));
        assert_eq!(contents.len(), KEY_FILE.prefix.len() + 64 + 1);
        assert_eq!(contents.last(), Some(&b'\n'));

        // The loaded key opens what the created key sealed, so they are the same key.
        let loaded = RootKey::load(&path).expect("load");
        let sealed = created.seal_secret(b"secret", b"label").expect("seal");
        assert_eq!(
            &*loaded.unseal_secret(&sealed, b"label").expect("unseal"),
            b"secret"
        );
    }

    #[test]
    fn create_refuses_to_overwrite_an_existing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_key_file(dir.path(), b"precious", 0o600);
        assert!(matches!(
            RootKey::create(&path),
            Err(Error::RootKeyExists { .. })
        ));
        assert_eq!(fs::read(&path).expect("read"), b"precious");
    }

    #[test]
    fn create_in_a_missing_directory_is_an_io_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("missing").join("root.key");
        assert!(matches!(RootKey::create(&path), Err(Error::Io { .. })));
        assert!(!path.exists());
    }

    #[test]
    fn load_refuses_a_file_readable_by_group_or_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("root.key");
        RootKey::create(&path).expect("create");
        for mode in [0o644, 0o640, 0o604, 0o660, 0o601] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
            match RootKey::load(&path) {
                Err(Error::InsecurePermissions { mode: found, .. }) => assert_eq!(found, mode),
                Err(other) => panic!("mode {mode:o}: unexpected error {other}"),
                Ok(_) => panic!("mode {mode:o} was accepted"),
            }
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).expect("chmod");
        assert!(RootKey::load(&path).is_ok());
    }

    #[test]
    fn insecure_permissions_are_reported_in_octal() {
        let error = Error::InsecurePermissions {
            path: "/etc/keystead/root.key".into(),
            mode: 0o644,
        };
        assert!(error.to_string().contains("mode 0644"), "{error}");
    }

    #[test]
    fn load_refuses_a_key_of_the_wrong_length_without_quoting_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let digits = "0123456789abcdef".repeat(3) + "fedcba987654"; // 60 digits
        let path = write_key_file(
            dir.path(),
            format!("keystead-root-key-v1:{digits}\n").as_bytes(),
            0o600,
        );
        let error = RootKey::load(&path).err().expect("wrong length is refused");
        assert!(matches!(error, Error::MalformedRootKey { .. }), "{error}");
        let message = format!("{error} {error:?}");
        assert!(!message.contains("fedcba987654"), "{message}");
        assert!(!message.contains("0123456789abcdef"), "{message}");
    }

    #[test]
    fn load_refuses_malformed_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = "ab".repeat(32);
        let bad: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            format!("{good}\n").into_bytes(),
            format!("keystead-root-key-v2:{good}\n").into_bytes(),
            format!("keystead-root-key-v1:{}zz\n", "ab".repeat(31)).into_bytes(),
            format!("keystead-root-key-v1:{good}\n\n").into_bytes(),
            format!("keystead-root-key-v1:{good}00\n").into_bytes(),
            format!("keystead-root-key-v1: {good}\n").into_bytes(),
            vec![b'a'; 4096],
        ];
        for contents in bad {
            let path = write_key_file(dir.path(), &contents, 0o600);
            let result = RootKey::load(&path);
            assert!(
                matches!(result, Err(Error::MalformedRootKey { .. })),
                "accepted {:?}",
                String::from_utf8_lossy(&contents)
            );
        }
    }

    #[test]
    fn load_accepts_upper_case_digits_and_a_missing_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let digits = "4041424344454647".repeat(4).to_uppercase();
        let path = write_key_file(
            dir.path(),
            format!("keystead-root-key-v1:{digits}").as_bytes(),
            0o600,
        );
        RootKey::load(&path).expect("load");
    }

    #[test]
    fn load_refuses_a_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("root.key");
        fs::create_dir(&sub).expect("mkdir");
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o700)).expect("chmod");
        assert!(matches!(
            RootKey::load(&sub),
            Err(Error::MalformedRootKey { .. })
        ));
    }

    #[test]
    fn load_of_a_missing_file_is_an_io_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let result = RootKey::load(dir.path().join("absent"));
        assert!(matches!(result, Err(Error::Io { .. })));
    }

    #[test]
    fn sealed_key_material_round_trips() {
        let root = RootKey::ephemeral().expect("root");
        let material = KeyMaterial::generate().expect("material");
        let wrapped = root.seal(&material, &key_id(), 3).expect("seal");
        assert_eq!(wrapped.as_bytes().len(), SEALED_OVERHEAD + KeyMaterial::LEN);
        assert_eq!(wrapped.as_bytes()[0], SEALED_FORMAT_V1);
        let unsealed = root.unseal(&wrapped, &key_id(), 3).expect("unseal");
        assert_eq!(unsealed.bytes(), material.bytes());
    }

    #[test]
    fn sealing_twice_gives_different_bytes() {
        let root = RootKey::ephemeral().expect("root");
        let material = KeyMaterial::generate().expect("material");
        let a = root.seal(&material, &key_id(), 1).expect("seal");
        let b = root.seal(&material, &key_id(), 1).expect("seal");
        assert_ne!(a, b);
    }

    #[test]
    fn sealed_key_material_is_bound_to_its_key_id_and_version() {
        let root = RootKey::ephemeral().expect("root");
        let material = KeyMaterial::generate().expect("material");
        let wrapped = root.seal(&material, &key_id(), 3).expect("seal");
        let tag_mismatch = |r: Result<KeyMaterial, Error>| {
            matches!(
                r,
                Err(Error::Unseal {
                    reason: "tag mismatch"
                })
            )
        };
        assert!(tag_mismatch(root.unseal(&wrapped, &KeyId::random(), 3)));
        assert!(tag_mismatch(root.unseal(&wrapped, &key_id(), 4)));
        assert!(tag_mismatch(root.unseal(&wrapped, &key_id(), 2)));
    }

    #[test]
    fn sealed_key_material_does_not_unseal_under_another_root_key() {
        let material = KeyMaterial::generate().expect("material");
        let wrapped = RootKey::ephemeral()
            .expect("root")
            .seal(&material, &key_id(), 1)
            .expect("seal");
        let other = RootKey::ephemeral().expect("root");
        assert!(other.unseal(&wrapped, &key_id(), 1).is_err());
    }

    #[test]
    fn every_tampered_byte_of_a_wrapped_key_is_refused() {
        let root = RootKey::ephemeral().expect("root");
        let material = KeyMaterial::generate().expect("material");
        let wrapped = root.seal(&material, &key_id(), 1).expect("seal");
        for i in 0..wrapped.as_bytes().len() {
            let mut bytes = wrapped.as_bytes().to_vec();
            bytes[i] ^= 0x01;
            let result = root.unseal(&WrappedKey::from_bytes(bytes), &key_id(), 1);
            assert!(matches!(result, Err(Error::Unseal { .. })), "byte {i}");
        }
    }

    #[test]
    fn truncated_or_foreign_wrapped_keys_are_refused() {
        let root = RootKey::ephemeral().expect("root");
        let material = KeyMaterial::generate().expect("material");
        let wrapped = root.seal(&material, &key_id(), 1).expect("seal");
        for len in 0..wrapped.as_bytes().len() {
            let truncated = WrappedKey::from_bytes(wrapped.as_bytes()[..len].to_vec());
            assert!(
                root.unseal(&truncated, &key_id(), 1).is_err(),
                "length {len}"
            );
        }
        let mut longer = wrapped.as_bytes().to_vec();
        longer.push(0);
        assert!(
            root.unseal(&WrappedKey::from_bytes(longer), &key_id(), 1)
                .is_err()
        );
    }

    #[test]
    fn sealed_key_material_matches_a_known_answer() {
        // Computed independently with Python's `cryptography` AESGCM from the grammar in the
        // module docs; if this fails, the stored format changed and old rows would not unseal.
        let root = fixed_root_key();
        let aad = key_material_aad(&key_id(), 7);
        let sealed = root
            .seal_with_nonce(fixed_nonce(), &aad, fixed_material().bytes())
            .expect("seal");
        assert_eq!(
            hex::encode(&sealed),
            "01101112131415161718191a1bf9bbbf52d21492a4262f5cdb677581399586165a9284dc9ce0f7534a\
             47f42c4fa7c630c72c6eced7c854bca0387a825e"
        );
        let unsealed = root
            .unseal(&WrappedKey::from_bytes(sealed), &key_id(), 7)
            .expect("unseal");
        assert_eq!(unsealed.bytes(), fixed_material().bytes());
    }

    #[test]
    fn sealed_secrets_match_a_known_answer() {
        let root = fixed_root_key();
        let label = b"access-key/AKIAEXAMPLE";
        let secret = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let sealed = root
            .seal_with_nonce(fixed_nonce(), &secret_aad(label), secret)
            .expect("seal");
        assert_eq!(
            hex::encode(&sealed),
            "01101112131415161718191a1b0e705cbd24c94157c0e0931da2d744814853c187413e285b003cafb8\
             9830f788a2b942b729b806a6c0b7f1c66aec7c73d6357621d0db047f"
        );
        assert_eq!(
            &*root.unseal_secret(&sealed, label).expect("unseal"),
            secret
        );
    }

    #[test]
    fn sealed_secrets_round_trip_and_are_bound_to_their_label() {
        let root = RootKey::ephemeral().expect("root");
        for secret in [&b""[..], b"x", &[7u8; 1000]] {
            let sealed = root.seal_secret(secret, b"access-key/AKIA1").expect("seal");
            assert_eq!(sealed.len(), SEALED_OVERHEAD + secret.len());
            let unsealed = root
                .unseal_secret(&sealed, b"access-key/AKIA1")
                .expect("unseal");
            assert_eq!(&*unsealed, secret);
            assert!(root.unseal_secret(&sealed, b"access-key/AKIA2").is_err());
            assert!(root.unseal_secret(&sealed, b"").is_err());
        }
    }

    #[test]
    fn sealed_secrets_and_sealed_key_material_are_not_interchangeable() {
        let root = RootKey::ephemeral().expect("root");
        let material = KeyMaterial::generate().expect("material");
        let wrapped = root.seal(&material, &key_id(), 1).expect("seal");
        // Even a label equal to the rest of the key-material AAD does not open it.
        let aad = key_material_aad(&key_id(), 1);
        assert!(root.unseal_secret(wrapped.as_bytes(), &aad).is_err());
        assert!(
            root.unseal_secret(wrapped.as_bytes(), &aad[SECRET_PURPOSE.len()..])
                .is_err()
        );

        let sealed = root.seal_secret(&[0u8; 32], b"label").expect("seal");
        assert!(
            root.unseal(&WrappedKey::from_bytes(sealed), &key_id(), 1)
                .is_err()
        );
    }

    #[test]
    fn every_tampered_byte_of_a_sealed_secret_is_refused() {
        let root = RootKey::ephemeral().expect("root");
        let sealed = root.seal_secret(b"hunter2", b"label").expect("seal");
        for i in 0..sealed.len() {
            let mut bytes = sealed.clone();
            bytes[i] ^= 0x80;
            assert!(root.unseal_secret(&bytes, b"label").is_err(), "byte {i}");
        }
        for len in 0..sealed.len() {
            assert!(
                root.unseal_secret(&sealed[..len], b"label").is_err(),
                "length {len}"
            );
        }
    }
}
