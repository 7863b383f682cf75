//! Cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey,
//! GenerateDataKeyWithoutPlaintext, GenerateRandom. These are the hot path: each takes one read
//! lock to find the key and never touches the store.

use std::collections::BTreeMap;

use keystead_crypto::ciphertext::{self, BlobHeader, EncryptionContext};
use keystead_types::Caller;
use zeroize::Zeroizing;

use crate::key_state::{self, Use};
use crate::reference::Aliases;
use crate::{Error, Facts, KeyEntry, KeyService};

/// The only encryption algorithm of symmetric keys.
const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";

/// The result of Encrypt.
pub struct Encrypted {
    /// The ciphertext blob.
    pub ciphertext: Vec<u8>,
    /// The ARN of the key that encrypted it.
    pub key_arn: String,
}

/// The result of Decrypt. The plaintext is zeroized when dropped.
pub struct Decrypted {
    /// The plaintext.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The ARN of the key that decrypted it.
    pub key_arn: String,
}

/// The result of ReEncrypt.
pub struct ReEncrypted {
    /// The new ciphertext blob, under the destination key.
    pub ciphertext: Vec<u8>,
    /// The ARN of the key that had encrypted the source ciphertext.
    pub source_key_arn: String,
    /// The ARN of the destination key.
    pub key_arn: String,
}

/// The result of GenerateDataKey. The plaintext key is zeroized when dropped.
pub struct DataKey {
    /// The data key in plaintext.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The data key encrypted under the KMS key.
    pub ciphertext: Vec<u8>,
    /// The ARN of the KMS key.
    pub key_arn: String,
}

impl KeyService {
    /// Encrypt: up to 4096 bytes under the key's newest version.
    pub fn encrypt(
        &self,
        caller: &Caller,
        key: &str,
        plaintext: &[u8],
        context: &BTreeMap<String, String>,
        algorithm: Option<&str>,
    ) -> Result<Encrypted, Error> {
        let entry = self.usable_key(caller, key, "kms:Encrypt", algorithm, context)?;
        Ok(Encrypted {
            ciphertext: seal_with(&entry, context, plaintext)?,
            key_arn: entry.arn.clone(),
        })
    }

    /// Decrypt: the key is named by the ciphertext; `key`, if given, must name the same key.
    pub fn decrypt(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        context: &BTreeMap<String, String>,
        key: Option<&str>,
        algorithm: Option<&str>,
    ) -> Result<Decrypted, Error> {
        let (entry, plaintext) =
            self.open_ciphertext(caller, ciphertext, context, key, algorithm, "kms:Decrypt")?;
        Ok(Decrypted {
            plaintext,
            key_arn: entry.arn.clone(),
        })
    }

    /// ReEncrypt: decrypts under the source key and encrypts under the destination key without
    /// the plaintext leaving the service.
    #[allow(clippy::too_many_arguments)]
    pub fn re_encrypt(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        source_context: &BTreeMap<String, String>,
        source_key: Option<&str>,
        source_algorithm: Option<&str>,
        destination_key: &str,
        destination_context: &BTreeMap<String, String>,
        destination_algorithm: Option<&str>,
    ) -> Result<ReEncrypted, Error> {
        let (source, plaintext) = self.open_ciphertext(
            caller,
            ciphertext,
            source_context,
            source_key,
            source_algorithm,
            "kms:ReEncryptFrom",
        )?;
        let destination = self.usable_key(
            caller,
            destination_key,
            "kms:ReEncryptTo",
            destination_algorithm,
            destination_context,
        )?;
        Ok(ReEncrypted {
            ciphertext: seal_with(&destination, destination_context, &plaintext)?,
            source_key_arn: source.arn.clone(),
            key_arn: destination.arn.clone(),
        })
    }

    /// GenerateDataKey: `length` random bytes, returned in plaintext and encrypted under the key.
    pub fn generate_data_key(
        &self,
        caller: &Caller,
        key: &str,
        length: usize,
        context: &BTreeMap<String, String>,
    ) -> Result<DataKey, Error> {
        self.data_key(caller, key, length, context, "kms:GenerateDataKey")
    }

    /// GenerateDataKeyWithoutPlaintext: as GenerateDataKey; the caller drops the plaintext.
    pub fn generate_data_key_without_plaintext(
        &self,
        caller: &Caller,
        key: &str,
        length: usize,
        context: &BTreeMap<String, String>,
    ) -> Result<DataKey, Error> {
        self.data_key(
            caller,
            key,
            length,
            context,
            "kms:GenerateDataKeyWithoutPlaintext",
        )
    }

    /// GenerateRandom: `length` bytes from the system's CSPRNG.
    pub fn generate_random(&self, length: usize) -> Result<Zeroizing<Vec<u8>>, Error> {
        Ok(keystead_crypto::random_bytes(length)?)
    }

    fn data_key(
        &self,
        caller: &Caller,
        key: &str,
        length: usize,
        context: &BTreeMap<String, String>,
        action: &'static str,
    ) -> Result<DataKey, Error> {
        let entry = self.usable_key(caller, key, action, None, context)?;
        let plaintext = keystead_crypto::random_bytes(length)?;
        Ok(DataKey {
            ciphertext: seal_with(&entry, context, &plaintext)?,
            plaintext,
            key_arn: entry.arn.clone(),
        })
    }

    /// The key named by `key`, checked for permission (with the request's encryption context),
    /// state and algorithm.
    fn usable_key(
        &self,
        caller: &Caller,
        key: &str,
        action: &'static str,
        algorithm: Option<&str>,
        context: &BTreeMap<String, String>,
    ) -> Result<std::sync::Arc<KeyEntry>, Error> {
        let entry = self.resolve(caller, key, Aliases::Accepted)?;
        let facts = Facts::default()
            .encryption_context(context)
            .request_alias(key)
            .value(
                "kms:EncryptionAlgorithm",
                algorithm.unwrap_or("SYMMETRIC_DEFAULT"),
            );
        let _permit = self.authorize_with(caller, &entry, action, facts)?;
        key_state::check(entry.record.key_state, Use::Cryptographic, &entry.arn)?;
        check_algorithm(&entry, algorithm)?;
        Ok(entry)
    }

    fn open_ciphertext(
        &self,
        caller: &Caller,
        blob: &[u8],
        context: &BTreeMap<String, String>,
        key: Option<&str>,
        algorithm: Option<&str>,
        action: &'static str,
    ) -> Result<(std::sync::Arc<KeyEntry>, Zeroizing<Vec<u8>>), Error> {
        let header = ciphertext::read_header(blob)
            .map_err(|e| Error::InvalidCiphertext { reason: e.reason() })?;
        let entry = self
            .read()
            .keys
            .get(&header.key_id)
            .filter(|e| e.record.region == caller.region)
            .cloned()
            .ok_or(Error::InvalidCiphertext {
                reason: "the key named by the ciphertext does not exist in this region",
            })?;
        if let Some(key) = key {
            let named = self.resolve(caller, key, Aliases::Accepted)?;
            if named.record.key_id != entry.record.key_id {
                return Err(Error::IncorrectKey);
            }
        }
        let mut facts = Facts::default().encryption_context(context).value(
            "kms:EncryptionAlgorithm",
            algorithm.unwrap_or("SYMMETRIC_DEFAULT"),
        );
        if let Some(key) = key {
            facts = facts.request_alias(key);
        }
        let _permit = self.authorize_with(caller, &entry, action, facts)?;
        key_state::check(entry.record.key_state, Use::Cryptographic, &entry.arn)?;
        check_algorithm(&entry, algorithm)?;
        let material = entry
            .version(header.key_version)
            .ok_or(Error::InvalidCiphertext {
                reason: "the key version named by the ciphertext does not exist",
            })?;
        let plaintext = ciphertext::decrypt(material, blob, &EncryptionContext::new(context))
            .map_err(|e| Error::InvalidCiphertext { reason: e.reason() })?;
        Ok((entry, plaintext))
    }
}

fn seal_with(
    entry: &KeyEntry,
    context: &BTreeMap<String, String>,
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let (version, material) = entry.current_version();
    let header = BlobHeader {
        key_id: entry.record.key_id,
        key_version: version,
    };
    Ok(ciphertext::encrypt(
        material,
        &header,
        &EncryptionContext::new(context),
        plaintext,
    )?)
}

fn check_algorithm(entry: &KeyEntry, algorithm: Option<&str>) -> Result<(), Error> {
    match algorithm {
        None | Some(SYMMETRIC_DEFAULT) => Ok(()),
        Some(other) => Err(Error::InvalidKeyUsage {
            message: format!(
                "The encryption algorithm {other} is not valid for {} with key spec {}.",
                entry.arn, entry.record.key_spec
            ),
        }),
    }
}
