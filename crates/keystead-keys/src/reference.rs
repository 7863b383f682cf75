//! Key references: the four ways a request names a key (key id, key ARN, alias name, alias
//! ARN), which operations accept which, and AWS's error for each wrong form.

use std::sync::Arc;

use keystead_types::{AccountId, Caller, KeyId, Region, alias_arn, key_arn};

use crate::{Error, KeyEntry, KeyService};

/// Whether an operation accepts alias names and alias ARNs as well as key ids and key ARNs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aliases {
    /// DescribeKey, Encrypt, Decrypt, ReEncrypt, GenerateDataKey*.
    Accepted,
    /// Lifecycle, tagging, rotation and policy operations, and alias targets.
    Refused,
}

/// What a reference names, before lookup.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reference<'a> {
    Key {
        account: Option<AccountId>,
        region: Option<Region>,
        key_id: KeyId,
    },
    Alias {
        account: Option<AccountId>,
        region: Option<Region>,
        name: &'a str,
    },
}

/// Parses a reference, or returns `InvalidKeyReference`.
pub(crate) fn parse(reference: &str) -> Result<Reference<'_>, Error> {
    let invalid = || Error::InvalidKeyReference {
        reference: reference.to_owned(),
    };
    if let Some(rest) = reference.strip_prefix("arn:") {
        // arn:PARTITION:kms:REGION:ACCOUNT:RESOURCE
        let mut parts = rest.splitn(5, ':');
        let (Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid());
        };
        if partition != "aws" || service != "kms" {
            return Err(invalid());
        }
        let region: Region = region.parse().map_err(|_| invalid())?;
        let account: AccountId = account.parse().map_err(|_| invalid())?;
        if let Some(key_id) = resource.strip_prefix("key/") {
            let key_id = key_id.parse().map_err(|_| invalid())?;
            return Ok(Reference::Key {
                account: Some(account),
                region: Some(region),
                key_id,
            });
        }
        if resource.starts_with("alias/") && resource.len() > "alias/".len() {
            return Ok(Reference::Alias {
                account: Some(account),
                region: Some(region),
                name: resource,
            });
        }
        return Err(invalid());
    }
    if reference.starts_with("alias/") && reference.len() > "alias/".len() {
        return Ok(Reference::Alias {
            account: None,
            region: None,
            name: reference,
        });
    }
    let key_id = reference.parse().map_err(|_| invalid())?;
    Ok(Reference::Key {
        account: None,
        region: None,
        key_id,
    })
}

impl KeyService {
    /// Finds the key a reference names, in the caller's region. A key id or alias name is
    /// looked up in the caller's account; an ARN names its own account, which authorization
    /// then judges.
    pub(crate) fn resolve(
        &self,
        caller: &Caller,
        reference: &str,
        aliases: Aliases,
    ) -> Result<Arc<KeyEntry>, Error> {
        match parse(reference)? {
            Reference::Key {
                account,
                region,
                key_id,
            } => {
                let account = account.unwrap_or_else(|| caller.account_id.clone());
                let region = region.unwrap_or_else(|| caller.region.clone());
                let not_found = || Error::KeyNotFound {
                    arn: key_arn(&region, &account, &key_id),
                };
                if region != caller.region {
                    return Err(not_found());
                }
                let state = self.read();
                let entry = state.keys.get(&key_id).ok_or_else(not_found)?;
                if entry.record.account_id != account || entry.record.region != region {
                    return Err(not_found());
                }
                Ok(entry.clone())
            }
            Reference::Alias {
                account,
                region,
                name,
            } => {
                if aliases == Aliases::Refused {
                    return Err(Error::InvalidKeyReference {
                        reference: reference.to_owned(),
                    });
                }
                let account = account.unwrap_or_else(|| caller.account_id.clone());
                let region = region.unwrap_or_else(|| caller.region.clone());
                let not_found = || Error::AliasNotFound {
                    alias_arn: alias_arn(&region, &account, name),
                };
                if region != caller.region {
                    return Err(not_found());
                }
                let state = self.read();
                let alias = state
                    .aliases
                    .get(&(account.clone(), region.clone(), name.to_owned()))
                    .ok_or_else(not_found)?;
                state
                    .keys
                    .get(&alias.target_key_id)
                    .cloned()
                    .ok_or_else(not_found)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn each_reference_form_parses() {
        let key_id: KeyId = KEY.parse().expect("key id");
        assert_eq!(
            parse(KEY).expect("id"),
            Reference::Key {
                account: None,
                region: None,
                key_id
            }
        );
        let arn = format!("arn:aws:kms:us-east-2:111122223333:key/{KEY}");
        assert_eq!(
            parse(&arn).expect("arn"),
            Reference::Key {
                account: Some("111122223333".parse().expect("account")),
                region: Some("us-east-2".parse().expect("region")),
                key_id
            }
        );
        assert_eq!(
            parse("alias/ExampleAlias").expect("alias"),
            Reference::Alias {
                account: None,
                region: None,
                name: "alias/ExampleAlias"
            }
        );
        assert_eq!(
            parse("arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias").expect("alias arn"),
            Reference::Alias {
                account: Some("111122223333".parse().expect("account")),
                region: Some("us-east-2".parse().expect("region")),
                name: "alias/ExampleAlias"
            }
        );
    }

    #[test]
    fn malformed_references_are_invalid_key_ids() {
        for bad in [
            "",
            "alias/",
            "not-a-key",
            "1234abcd12ab34cd56ef1234567890ab",
            "arn:aws:kms:us-east-2:111122223333:key/not-a-uuid",
            "arn:aws:s3:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-2:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:nowhere:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-2:111122223333:grant/x",
            "arn:aws:kms:us-east-2",
        ] {
            assert!(
                matches!(parse(bad), Err(Error::InvalidKeyReference { .. })),
                "{bad:?} should be invalid"
            );
        }
    }
}
