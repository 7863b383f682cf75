//! keystead's only cryptography. Every use of aws-lc-rs in the workspace goes through this crate,
//! so that the primitives, their parameters and the byte formats built on them are reviewed in
//! one place. Nothing here does I/O except the key files of [`RootKey`] and [`SigningKey`].
//!
//! - [`RootKey`] seals [`KeyMaterial`] into [`WrappedKey`] bytes for storage, and seals other
//!   secrets (secret access keys) with [`RootKey::seal_secret`].
//! - [`ciphertext`] is the blob that KMS `Encrypt` returns and `Decrypt` accepts.
//! - [`random_bytes`] and [`random_array`] are the workspace's only source of randomness.
//! - [`digest`] holds SHA-256, HMAC-SHA-256, HMAC-SHA-1 (TOTP) and constant-time comparison for protocols.
//! - [`signing`] holds the Ed25519 [`SigningKey`] that signs the audit trail's digests.
//!
//! The byte formats are specified in `docs/design/ciphertext-format.md`.

pub mod ciphertext;
pub mod data_key;
pub mod digest;
mod error;
mod key_file;
mod key_material;
mod random;
mod root_key;
pub mod signing;

pub use error::{DecryptError, Error};
pub use key_material::{KeyMaterial, WrappedKey};
pub use random::{random_array, random_bytes};
pub use root_key::RootKey;
pub use signing::{SigningError, SigningKey};
