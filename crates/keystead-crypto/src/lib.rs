//! keystead's only cryptography. Every use of aws-lc-rs in the workspace goes through this crate,
//! so that the primitives, their parameters and the byte formats built on them are reviewed in
//! one place. Nothing here does I/O except [`RootKey`]'s key-file handling.

pub mod digest;
