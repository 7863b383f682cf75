//! Signatures: [`SigningKey`], an Ed25519 key kept in a key file, which signs the audit trail's
//! digest files, and [`verify`], which checks such signatures against an exported public key.
//!
//! This module owns the signing key file's format and permissions and the public key's export
//! forms. It must not let the private key out: there is no accessor for the seed, no `Debug`,
//! `Clone` or `Serialize`, and no error or debug output contains file contents.
//!
//! Key file (one line, mode 0600 or stricter):
//! ```text
//! file = "keystead-ed25519-key-v1:" 64*HEXDIG [LF]   ; the 32-byte Ed25519 seed (RFC 8032)
//! ```
//! Public key forms:
//! ```text
//! der = SubjectPublicKeyInfo (RFC 8410):
//!       30 2a 30 05 06 03 2b 65 70 03 21 00 || public key (32 bytes)   ; 44 bytes
//! pem = "-----BEGIN PUBLIC KEY-----" LF base64(der) LF "-----END PUBLIC KEY-----" LF
//! ```
//! Signatures are plain Ed25519 (RFC 8032, 64 bytes). Callers separate their uses by prefixing
//! the message with a purpose string, as the audit trail does with `keystead-audit-digest-v1`.
//!
//! Why a separate error type: this module was added after [`crate::Error`] was settled, and
//! adding variants there would break exhaustive matches in other crates. [`SigningError`] may be
//! folded into it when those are next revised.

use std::io;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use zeroize::Zeroizing;

use crate::key_file::{KeyFileError, KeyFileFormat, SECRET_LEN};
use crate::random::fill;

/// The signing key file; the `v1` in its prefix names this text form.
const KEY_FILE: KeyFileFormat = KeyFileFormat {
    prefix: b"keystead-ed25519-key-v1:",
    no_prefix: "expected a line starting with keystead-ed25519-key-v1:",
    wrong_length: "expected 64 hex digits (32 bytes) after keystead-ed25519-key-v1:",
};
/// Length of an Ed25519 seed in bytes.
const SEED_LEN: usize = SECRET_LEN;
/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4); the key's 32 bytes follow.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// Length of an Ed25519 public key in DER (SubjectPublicKeyInfo) form.
pub const PUBLIC_KEY_DER_LEN: usize = SPKI_PREFIX.len() + 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
const PEM_BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
const PEM_END: &str = "-----END PUBLIC KEY-----";

/// Failures of signing-key handling and public-key parsing.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// Reading or writing the signing key file (or syncing its directory) failed. Returned by
    /// [`SigningKey::create`] and [`SigningKey::load`].
    #[error("cannot access signing key file {path}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// [`SigningKey::create`] refuses to overwrite an existing file: signatures made with the old
    /// key could no longer be tied to a key anyone holds.
    #[error("signing key file {path} already exists; refusing to overwrite it")]
    KeyExists {
        /// The existing file.
        path: PathBuf,
    },

    /// The signing key file grants some access to group or others. Returned by
    /// [`SigningKey::load`].
    #[error(
        "signing key file {path} has mode {mode:04o}; it must not be accessible by group or \
         others (chmod 600)"
    )]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// The signing key file is not one line `keystead-ed25519-key-v1:` followed by 64 hex
    /// digits. Returned by [`SigningKey::load`].
    #[error("signing key file {path} is not a keystead signing key: {reason}")]
    MalformedKeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it (a fixed description, never file contents).
        reason: &'static str,
    },

    /// A public key is not an Ed25519 SubjectPublicKeyInfo in DER or PEM form. Returned by
    /// [`public_key_der_from_pem`].
    #[error("not an Ed25519 public key: {reason}")]
    MalformedPublicKey {
        /// What is wrong with it (a fixed description).
        reason: &'static str,
    },

    /// A sealed signing key did not unseal under the root key: it was sealed under another
    /// root key or with another label, or it was altered. Returned by
    /// [`SigningKey::from_sealed`].
    #[error("the sealed signing key does not unseal under this root key")]
    Unseal,

    /// aws-lc reported a failure that carries no detail (random generator or key setup). It is
    /// not expected in normal operation.
    #[error("the cryptographic library reported an unspecified failure")]
    Unspecified,
}

impl From<aws_lc_rs::error::Unspecified> for SigningError {
    fn from(_: aws_lc_rs::error::Unspecified) -> Self {
        Self::Unspecified
    }
}

impl From<crate::Error> for SigningError {
    // Only the random generator's failure reaches here (through `fill`).
    fn from(_: crate::Error) -> Self {
        Self::Unspecified
    }
}

/// An Ed25519 signing key.
///
/// Only aws-lc's key object is kept (it wipes the key when freed); the seed lives in
/// `Zeroizing` buffers just long enough to build it. There is no `Debug`, `Clone` or
/// `Serialize`, and no way to read the private key back.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    public_key_der: Vec<u8>,
}

impl SigningKey {
    /// A new random key that exists only in memory: for tests, and for callers that seal the
    /// key some other way.
    pub fn generate() -> Result<Self, SigningError> {
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        fill(&mut *seed)?;
        Self::from_seed(&seed)
    }

    /// Creates a new random key and writes it to `path`, which must not exist.
    ///
    /// As with [`RootKey::create`](crate::RootKey::create), the file is created exclusively with
    /// mode 0600 set at open time, written as `keystead-ed25519-key-v1:<64 hex digits>\n`, and
    /// synced together with its directory; if anything fails after it was created, it is
    /// removed again.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, SigningError> {
        let path = path.as_ref();
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        fill(&mut *seed)?;
        let key = Self::from_seed(&seed)?;
        KEY_FILE
            .create(path, &seed)
            .map_err(|e| key_file_error(path, e))?;
        Ok(key)
    }

    /// Loads the key from `path`.
    ///
    /// Refuses a file whose permissions grant group or others any access
    /// ([`SigningError::InsecurePermissions`]), that is not a regular file, or that is not
    /// exactly one line `keystead-ed25519-key-v1:` followed by 64 hex digits
    /// ([`SigningError::MalformedKeyFile`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, SigningError> {
        let path = path.as_ref();
        let seed = KEY_FILE.load(path).map_err(|e| key_file_error(path, e))?;
        Self::from_seed(&seed)
    }

    /// A new random key and its seed sealed under `root` with `label`
    /// ([`RootKey::seal_secret`](crate::RootKey::seal_secret)): the sealed bytes are what a
    /// caller stores, so the seed never reaches a disk unsealed. [`SigningKey::from_sealed`]
    /// with the same root key and label gives the key back.
    pub fn generate_sealed(
        root: &crate::RootKey,
        label: &[u8],
    ) -> Result<(Self, Vec<u8>), SigningError> {
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        fill(&mut *seed)?;
        let key = Self::from_seed(&seed)?;
        let sealed = root
            .seal_secret(&*seed, label)
            .map_err(|_| SigningError::Unspecified)?;
        Ok((key, sealed))
    }

    /// The key whose seed [`SigningKey::generate_sealed`] sealed under `root` with `label`.
    /// Anything else ([`SigningError::Unseal`]): another root key, another label, altered bytes.
    pub fn from_sealed(
        sealed: &[u8],
        root: &crate::RootKey,
        label: &[u8],
    ) -> Result<Self, SigningError> {
        let seed = root
            .unseal_secret(sealed, label)
            .map_err(|_| SigningError::Unseal)?;
        let seed: &[u8; SEED_LEN] = seed
            .as_slice()
            .try_into()
            .map_err(|_| SigningError::Unseal)?;
        Self::from_seed(seed)
    }

    fn from_seed(seed: &[u8; SEED_LEN]) -> Result<Self, SigningError> {
        let pair =
            Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| SigningError::Unspecified)?;
        let der = AsDer::<PublicKeyX509Der>::as_der(pair.public_key())?;
        Ok(Self {
            public_key_der: der.as_ref().to_vec(),
            pair,
        })
    }

    /// The Ed25519 signature (64 bytes) of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }

    /// The public key as a DER SubjectPublicKeyInfo (44 bytes), the form [`verify`] takes.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.public_key_der.clone()
    }

    /// The public key in PEM (`-----BEGIN PUBLIC KEY-----`), as `openssl pkey -pubout` writes it.
    pub fn public_key_pem(&self) -> String {
        public_key_pem_from_der(&self.public_key_der)
    }
}

/// Whether `signature` is a valid Ed25519 signature of `message` under `public_key_der`, a DER
/// SubjectPublicKeyInfo as [`SigningKey::public_key_der`] returns. Anything malformed is simply
/// not valid.
pub fn verify(public_key_der: &[u8], message: &[u8], signature: &[u8]) -> bool {
    // aws-lc would also take a raw 32-byte key; insisting on one form keeps exported keys
    // unambiguous.
    if public_key_der.len() != PUBLIC_KEY_DER_LEN || !public_key_der.starts_with(&SPKI_PREFIX) {
        return false;
    }
    UnparsedPublicKey::new(&ED25519, public_key_der)
        .verify(message, signature)
        .is_ok()
}

/// The PEM form of a DER public key.
pub fn public_key_pem_from_der(public_key_der: &[u8]) -> String {
    let encoded = BASE64.encode(public_key_der);
    let mut pem = String::with_capacity(encoded.len() + 64);
    pem.push_str(PEM_BEGIN);
    pem.push('\n');
    for line in encoded.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');
    pem
}

/// The DER SubjectPublicKeyInfo inside a PEM `PUBLIC KEY` block, checked to be an Ed25519 key.
/// Text before the `BEGIN` line and after the `END` line is ignored, as openssl does.
pub fn public_key_der_from_pem(pem: &str) -> Result<Vec<u8>, SigningError> {
    let malformed = |reason| SigningError::MalformedPublicKey { reason };
    let start = pem
        .find(PEM_BEGIN)
        .ok_or(malformed("no -----BEGIN PUBLIC KEY----- line"))?
        + PEM_BEGIN.len();
    let end = pem[start..]
        .find(PEM_END)
        .ok_or(malformed("no -----END PUBLIC KEY----- line"))?
        + start;
    let body: Vec<u8> = pem[start..end]
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    // Strict: padding as RFC 4648 requires it, and no stray bits in the last symbol.
    let der = BASE64
        .decode(&body)
        .map_err(|_| malformed("the body is not base64"))?;
    if der.len() != PUBLIC_KEY_DER_LEN || !der.starts_with(&SPKI_PREFIX) {
        return Err(malformed("not an Ed25519 SubjectPublicKeyInfo"));
    }
    Ok(der)
}

/// The signing key's error for what went wrong with its file at `path`.
fn key_file_error(path: &Path, error: KeyFileError) -> SigningError {
    match error {
        KeyFileError::Exists => SigningError::KeyExists {
            path: path.to_owned(),
        },
        KeyFileError::Io { path, source } => SigningError::Io { path, source },
        KeyFileError::InsecurePermissions { mode } => SigningError::InsecurePermissions {
            path: path.to_owned(),
            mode,
        },
        KeyFileError::Malformed(reason) => SigningError::MalformedKeyFile {
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

    /// RFC 8032 §7.1, TEST 1 and TEST 2: (seed, public key, message, signature).
    const RFC_8032: [(&str, &str, &str, &str); 2] = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc6\
             1e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e45\
             8f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
    ];

    fn key_from_hex(seed: &str) -> SigningKey {
        let bytes: [u8; 32] = hex::decode(seed)
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        SigningKey::from_seed(&bytes).expect("key")
    }

    #[test]
    fn signatures_match_rfc_8032_test_vectors() {
        for (seed, public, message, signature) in RFC_8032 {
            let key = key_from_hex(seed);
            let message = hex::decode(message).expect("hex");
            assert_eq!(hex::encode(key.sign(&message)), signature);
            let der = key.public_key_der();
            assert_eq!(hex::encode(&der[SPKI_PREFIX.len()..]), public);
            assert!(verify(
                &der,
                &message,
                &hex::decode(signature).expect("hex")
            ));
        }
    }

    #[test]
    fn public_key_pem_matches_what_openssl_writes() {
        // The RFC 8032 TEST 1 key, exported by Python's `cryptography` as SubjectPublicKeyInfo.
        let key = key_from_hex(RFC_8032[0].0);
        assert_eq!(
            key.public_key_pem(),
            "-----BEGIN PUBLIC KEY-----\n\
             MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n\
             -----END PUBLIC KEY-----\n"
        );
        assert_eq!(
            public_key_der_from_pem(&key.public_key_pem()).expect("pem"),
            key.public_key_der()
        );
    }

    #[test]
    fn a_signature_made_with_one_key_does_not_verify_under_another_or_for_another_message() {
        let a = SigningKey::generate().expect("key");
        let b = SigningKey::generate().expect("key");
        let signature = a.sign(b"digest");
        assert_eq!(signature.len(), SIGNATURE_LEN);
        assert!(verify(&a.public_key_der(), b"digest", &signature));
        assert!(!verify(&b.public_key_der(), b"digest", &signature));
        assert!(!verify(&a.public_key_der(), b"digesT", &signature));
        for i in 0..signature.len() {
            let mut bad = signature.clone();
            bad[i] ^= 0x01;
            assert!(!verify(&a.public_key_der(), b"digest", &bad), "byte {i}");
        }
        assert!(!verify(&a.public_key_der(), b"digest", &signature[..63]));
        // The raw 32-byte form and garbage are refused, not parsed.
        let der = a.public_key_der();
        assert!(!verify(&der[SPKI_PREFIX.len()..], b"digest", &signature));
        assert!(!verify(b"", b"digest", &signature));
    }

    #[test]
    fn a_created_key_file_has_mode_0600_and_loads_to_the_same_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit-signing.key");
        let created = SigningKey::create(&path).expect("create");
        let mode = fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = SigningKey::load(&path).expect("load");
        assert_eq!(created.public_key_der(), loaded.public_key_der());
        let signature = loaded.sign(b"m");
        assert!(verify(&created.public_key_der(), b"m", &signature));
        assert!(matches!(
            SigningKey::create(&path),
            Err(SigningError::KeyExists { .. })
        ));
    }

    #[test]
    fn key_files_readable_by_others_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        SigningKey::create(&path).expect("create");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        assert!(matches!(
            SigningKey::load(&path),
            Err(SigningError::InsecurePermissions { mode: 0o640, .. })
        ));
    }

    #[test]
    fn malformed_key_files_are_refused_without_quoting_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases: [&[u8]; 5] = [
            b"",
            b"keystead-root-key-v1:9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n",
            b"keystead-ed25519-key-v1:9d61b19d\n",
            b"keystead-ed25519-key-v1:zz61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n",
            &[b'a'; 200],
        ];
        for (i, contents) in cases.iter().enumerate() {
            let path = dir.path().join(format!("k{i}"));
            fs::write(&path, contents).expect("write");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
            match SigningKey::load(&path) {
                Err(error @ SigningError::MalformedKeyFile { .. }) => {
                    assert!(!error.to_string().contains("9d61b19d"), "case {i}");
                }
                Err(other) => panic!("case {i}: unexpected {other:?}"),
                Ok(_) => panic!("case {i}: loaded"),
            }
        }
    }

    #[test]
    fn a_key_file_with_a_known_seed_signs_as_rfc_8032_says() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        let mut contents = b"keystead-ed25519-key-v1:".to_vec();
        contents.extend_from_slice(RFC_8032[0].0.to_uppercase().as_bytes());
        fs::write(&path, &contents).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        let key = SigningKey::load(&path).expect("load");
        assert_eq!(hex::encode(key.sign(b"")), RFC_8032[0].3);
    }

    #[test]
    fn a_sealed_key_unseals_only_under_its_root_key_and_label() {
        let root = crate::RootKey::ephemeral().expect("root");
        let (key, sealed) = SigningKey::generate_sealed(&root, b"audit").expect("generate");
        let again = SigningKey::from_sealed(&sealed, &root, b"audit").expect("unseal");
        assert_eq!(key.public_key_der(), again.public_key_der());
        assert!(verify(&key.public_key_der(), b"m", &again.sign(b"m")));
        let other = crate::RootKey::ephemeral().expect("root");
        assert!(matches!(
            SigningKey::from_sealed(&sealed, &other, b"audit"),
            Err(SigningError::Unseal)
        ));
        assert!(matches!(
            SigningKey::from_sealed(&sealed, &root, b"other"),
            Err(SigningError::Unseal)
        ));
        let mut altered = sealed.clone();
        altered[sealed.len() / 2] ^= 1;
        assert!(matches!(
            SigningKey::from_sealed(&altered, &root, b"audit"),
            Err(SigningError::Unseal)
        ));
    }

    #[test]
    fn malformed_pem_is_refused() {
        for pem in [
            "",
            "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n",
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo\n\
             -----END PUBLIC KEY-----\n",
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURp=\n\
             -----END PUBLIC KEY-----\n",
            // A P-256 key is not an Ed25519 key.
            "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n\
             AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n\
             -----END PUBLIC KEY-----\n",
        ] {
            assert!(
                matches!(
                    public_key_der_from_pem(pem),
                    Err(SigningError::MalformedPublicKey { .. })
                ),
                "{pem}"
            );
        }
    }

    #[test]
    fn streaming_sha256_equals_one_shot_sha256() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut hasher = crate::digest::StreamingSha256::new();
        for piece in data.chunks(77) {
            hasher.update(piece);
        }
        assert_eq!(hasher.finish(), crate::digest::sha256(&data));
        assert_eq!(
            hex::encode(crate::digest::StreamingSha256::default().finish()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
