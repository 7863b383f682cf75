//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant and RevokeGrant (KMS
//! Developer Guide, "Grants in AWS KMS").
//!
//! A grant lets its grantee principal perform some operations with one key, in the key's
//! account or another, without the key policy naming it. Grants live on their key's
//! [`crate::KeyEntry`], compiled for evaluation, and are published like the key policy: a grant
//! is usable as soon as CreateGrant returns (AWS's eventual consistency is not imitated). They
//! are deleted with their key.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keystead_authz::{GrantConstraints, GrantOperation};
use keystead_store::{GrantConstraint, GrantRecord};
use keystead_types::{Caller, KeyId};

use crate::key_state::{self, Use};
use crate::pagination::{page, page_size, resume_after};
use crate::reference::Aliases;
use crate::{Error, Facts, KeyEntry, KeyService};

/// AWS's quota of grants per key.
const MAX_GRANTS_PER_KEY: usize = 50_000;

/// The prefix of the text inside a grant token, before base64.
const TOKEN_PREFIX: &str = "kgt1:";

/// What CreateGrant was asked for, already checked against the model's shapes.
#[derive(Debug, Clone, Default)]
pub struct CreateGrantInput {
    /// The key id or key ARN (aliases are refused, as AWS does).
    pub key: String,
    /// The principal the grant allows.
    pub grantee_principal: String,
    /// The operations the grant allows, as AWS names them; at least one.
    pub operations: Vec<String>,
    /// The principal that may retire the grant.
    pub retiring_principal: Option<String>,
    /// An encryption context constraint.
    pub constraints: Option<GrantConstraint>,
    /// A friendly name; retrying with the same name and parameters returns the same grant.
    pub name: Option<String>,
    /// Check everything, then refuse with [`Error::DryRun`] instead of creating the grant.
    pub dry_run: bool,
}

/// The result of CreateGrant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedGrant {
    /// The grant id (64 hex characters).
    pub grant_id: String,
    /// The grant token, accepted by RetireGrant.
    pub grant_token: String,
}

/// One page of ListGrants or ListRetirableGrants.
#[derive(Debug, Clone)]
pub struct GrantPage {
    /// The grants, ordered by key id, then grant id.
    pub grants: Vec<GrantRecord>,
    /// Where the next page starts, if there is one.
    pub next_marker: Option<String>,
}

impl KeyService {
    /// CreateGrant: a grant on a key that is not pending deletion. Authorized as
    /// `kms:CreateGrant`.
    pub async fn create_grant(
        &self,
        caller: &Caller,
        input: CreateGrantInput,
    ) -> Result<CreatedGrant, Error> {
        let operations = parse_operations(&input.operations)?;
        if input.constraints.is_some() && !operations.iter().all(|o| o.takes_encryption_context()) {
            return Err(Error::Validation {
                message: "Grant constraints are only supported for operations that take an \
                          encryption context."
                    .to_owned(),
            });
        }
        let _writer = self.writer.lock().await;
        let entry = self.resolve(caller, &input.key, Aliases::Refused)?;
        let mut facts = Facts::default()
            .values(
                "kms:GrantOperations",
                operations.iter().map(|o| o.as_str().to_owned()).collect(),
            )
            .value("kms:GranteePrincipal", input.grantee_principal.as_str())
            .value(
                "kms:GrantIsForAWSResource",
                crate::authorization::bool_text(caller.via_service.is_some()),
            );
        if let Some(retiring) = &input.retiring_principal {
            facts = facts.value("kms:RetiringPrincipal", retiring.as_str());
        }
        let _permit = self.authorize_with(caller, &entry, "kms:CreateGrant", facts)?;
        key_state::check(entry.record.key_state, Use::Manage, &entry.arn)?;
        let mut record = GrantRecord {
            grant_id: String::new(),
            key_id: entry.record.key_id,
            account_id: entry.record.account_id.clone(),
            region: entry.record.region.clone(),
            name: input.name,
            grantee_principal: input.grantee_principal,
            retiring_principal: input.retiring_principal,
            operations: operations.iter().map(|o| o.as_str().to_owned()).collect(),
            constraints: input.constraints,
            issuing_account: caller.account_id.clone(),
            creation_date: self.now(),
            grant_token: String::new(),
        };
        // Checks both principals before anything is written.
        compile(&record).map_err(|e| Error::Validation {
            message: e.to_string(),
        })?;
        if input.dry_run {
            return Err(Error::DryRun);
        }
        if record.name.is_some()
            && let Some(existing) = entry
                .grants
                .records
                .values()
                .find(|g| same_parameters(g, &record))
        {
            return Ok(CreatedGrant {
                grant_id: existing.grant_id.clone(),
                grant_token: existing.grant_token.clone(),
            });
        }
        if entry.grants.records.len() >= MAX_GRANTS_PER_KEY {
            return Err(Error::LimitExceeded {
                message: format!(
                    "The key {} already has {MAX_GRANTS_PER_KEY} grants.",
                    entry.arn
                ),
            });
        }
        record.grant_id = hex(&keystead_crypto::random_bytes(32)?);
        record.grant_token = mint_token(&record.key_id, &record.grant_id)?;
        let compiled = compile(&record).map_err(|e| Error::Validation {
            message: e.to_string(),
        })?;
        self.store.create_grant(&record).await?;
        let created = CreatedGrant {
            grant_id: record.grant_id.clone(),
            grant_token: record.grant_token.clone(),
        };
        let key_id = record.key_id;
        self.publish_grants(&key_id, entry.grants.with(record, compiled));
        Ok(created)
    }

    /// ListGrants: the key's grants, optionally only one grant id or one grantee. Authorized as
    /// `kms:ListGrants`.
    pub fn list_grants(
        &self,
        caller: &Caller,
        key: &str,
        limit: Option<i32>,
        marker: Option<&str>,
        grant_id: Option<&str>,
        grantee_principal: Option<&str>,
    ) -> Result<GrantPage, Error> {
        let size = page_size(limit, 50, 100)?;
        let after = resume_after(marker)?;
        let entry = self.resolve(caller, key, Aliases::Refused)?;
        let _permit = self.authorize(caller, &entry, "kms:ListGrants")?;
        let matching = entry.grants.records.values().filter(|g| {
            grant_id.is_none_or(|id| g.grant_id == id)
                && grantee_principal.is_none_or(|p| g.grantee_principal == p)
        });
        let (grants, next_marker) = page(matching, |g| g.grant_id.clone(), after.as_deref(), size);
        Ok(GrantPage {
            grants: grants.into_iter().cloned().collect(),
            next_marker,
        })
    }

    /// ListRetirableGrants: the grants on keys of the caller's account and region whose retiring
    /// principal is `retiring_principal`.
    pub fn list_retirable_grants(
        &self,
        caller: &Caller,
        retiring_principal: &str,
        limit: Option<i32>,
        marker: Option<&str>,
    ) -> Result<GrantPage, Error> {
        let size = page_size(limit, 50, 100)?;
        let after = resume_after(marker)?;
        let state = self.read();
        let matching = state
            .keys
            .values()
            .filter(|e| {
                e.record.account_id == caller.account_id && e.record.region == caller.region
            })
            .flat_map(|e| e.grants.records.values())
            .filter(|g| g.retiring_principal.as_deref() == Some(retiring_principal));
        let (grants, next_marker) = page(
            matching,
            |g| format!("{}/{}", g.key_id, g.grant_id),
            after.as_deref(),
            size,
        );
        Ok(GrantPage {
            grants: grants.into_iter().cloned().collect(),
            next_marker,
        })
    }

    /// RetireGrant: by grant token, or by key and grant id. Allowed to the grant's retiring
    /// principal, to its grantee if the grant allows `RetireGrant`, to the key's account and the
    /// issuing account, and to whoever the key policy allows `kms:RetireGrant`.
    pub async fn retire_grant(
        &self,
        caller: &Caller,
        grant_token: Option<&str>,
        key: Option<&str>,
        grant_id: Option<&str>,
        dry_run: bool,
    ) -> Result<(), Error> {
        let _writer = self.writer.lock().await;
        let (entry, grant_id) =
            match (grant_token, key, grant_id) {
                (Some(token), _, _) => {
                    let (key_id, grant_id) = parse_token(token)?;
                    let entry = self
                        .read()
                        .keys
                        .get(&key_id)
                        .filter(|e| e.record.region == caller.region)
                        .cloned()
                        .ok_or_else(|| Error::GrantNotFound {
                            grant_id: grant_id.clone(),
                        })?;
                    let record = entry.grants.records.get(&grant_id).ok_or_else(|| {
                        Error::GrantNotFound {
                            grant_id: grant_id.clone(),
                        }
                    })?;
                    if record.grant_token != token {
                        return Err(Error::InvalidGrantToken);
                    }
                    (entry, grant_id)
                }
                (None, Some(key), Some(grant_id)) => {
                    let entry = self.resolve(caller, key, Aliases::Refused)?;
                    check_grant_id(grant_id)?;
                    (entry, grant_id.to_owned())
                }
                (None, _, _) => {
                    return Err(Error::Validation {
                        message: "Either GrantToken, or both KeyId and GrantId, must be specified."
                            .to_owned(),
                    });
                }
            };
        let record = entry
            .grants
            .records
            .get(&grant_id)
            .ok_or_else(|| Error::GrantNotFound {
                grant_id: grant_id.clone(),
            })?;
        self.authorize_retire(caller, &entry, record)?;
        if dry_run {
            return Err(Error::DryRun);
        }
        self.store
            .delete_grant(&entry.record.key_id, &grant_id)
            .await?;
        self.publish_grants(&entry.record.key_id, entry.grants.without(&grant_id));
        Ok(())
    }

    /// RevokeGrant: deletes a grant of the key. Authorized as `kms:RevokeGrant`.
    pub async fn revoke_grant(
        &self,
        caller: &Caller,
        key: &str,
        grant_id: &str,
        dry_run: bool,
    ) -> Result<(), Error> {
        let _writer = self.writer.lock().await;
        let entry = self.resolve(caller, key, Aliases::Refused)?;
        let _permit = self.authorize(caller, &entry, "kms:RevokeGrant")?;
        check_grant_id(grant_id)?;
        if !entry.grants.records.contains_key(grant_id) {
            return Err(Error::GrantNotFound {
                grant_id: grant_id.to_owned(),
            });
        }
        if dry_run {
            return Err(Error::DryRun);
        }
        self.store
            .delete_grant(&entry.record.key_id, grant_id)
            .await?;
        self.publish_grants(&entry.record.key_id, entry.grants.without(grant_id));
        Ok(())
    }

    /// Whether `caller` may retire `grant` (KMS API Reference, RetireGrant).
    fn authorize_retire(
        &self,
        caller: &Caller,
        entry: &KeyEntry,
        grant: &GrantRecord,
    ) -> Result<(), Error> {
        if caller.account_id == entry.record.account_id
            || caller.account_id == grant.issuing_account
        {
            return Ok(());
        }
        let ctx = self.request_context(
            caller,
            &entry.arn,
            &entry.record.account_id,
            "kms:RetireGrant",
        );
        let mut grants = Vec::with_capacity(2);
        if let Some(retiring) = &grant.retiring_principal
            && let Ok(g) = keystead_authz::Grant::new(
                &grant.grant_id,
                retiring,
                vec![GrantOperation::RetireGrant],
                None,
            )
        {
            grants.push(g);
        }
        if let Some(g) = entry
            .grants
            .compiled
            .iter()
            .find(|g| g.grant_id() == grant.grant_id)
        {
            grants.push(g.clone());
        }
        match keystead_authz::evaluate_kms(&entry.policy, &[], &grants, &ctx) {
            keystead_authz::Decision::Allow { .. } => Ok(()),
            denied @ keystead_authz::Decision::Deny { .. } => Err(Error::AccessDenied {
                message: denied.access_denied_message(&ctx).unwrap_or_default(),
            }),
        }
    }
}

/// A grant record compiled for evaluation.
pub(crate) fn compile(
    record: &GrantRecord,
) -> Result<keystead_authz::Grant, keystead_authz::Error> {
    let operations = record
        .operations
        .iter()
        .map(|o| o.parse())
        .collect::<Result<Vec<GrantOperation>, _>>()?;
    let constraints = record.constraints.as_ref().map(|c| match c {
        GrantConstraint::EncryptionContextEquals(m) => {
            GrantConstraints::EncryptionContextEquals(m.clone())
        }
        GrantConstraint::EncryptionContextSubset(m) => {
            GrantConstraints::EncryptionContextSubset(m.clone())
        }
    });
    let grant = keystead_authz::Grant::new(
        &record.grant_id,
        &record.grantee_principal,
        operations,
        constraints,
    )?;
    match &record.retiring_principal {
        Some(retiring) => {
            // The retiring principal must be a principal too, though it authorizes nothing here.
            keystead_authz::Grant::new(&record.grant_id, retiring, Vec::new(), None)?;
            Ok(grant.with_retiring_principal(retiring))
        }
        None => Ok(grant),
    }
}

/// The operations of a CreateGrant, without repeats; at least one.
fn parse_operations(operations: &[String]) -> Result<Vec<GrantOperation>, Error> {
    if operations.is_empty() {
        return Err(Error::Validation {
            message: "1 validation error detected: Value at 'operations' failed to satisfy \
                      constraint: Member must have length greater than or equal to 1"
                .to_owned(),
        });
    }
    let mut seen = BTreeSet::new();
    let mut parsed = Vec::with_capacity(operations.len());
    for operation in operations {
        let operation: GrantOperation = operation.parse().map_err(|_| Error::Validation {
            message: format!("{operation} is not a valid grant operation."),
        })?;
        if seen.insert(operation) {
            parsed.push(operation);
        }
    }
    Ok(parsed)
}

/// Whether two grants have the same name and parameters (CreateGrant's idempotency).
fn same_parameters(a: &GrantRecord, b: &GrantRecord) -> bool {
    let ops = |g: &GrantRecord| g.operations.iter().cloned().collect::<BTreeSet<String>>();
    a.name == b.name
        && a.grantee_principal == b.grantee_principal
        && a.retiring_principal == b.retiring_principal
        && a.constraints == b.constraints
        && ops(a) == ops(b)
}

/// Grant ids are 64 lower-case hex characters; anything else is `InvalidGrantIdException`.
fn check_grant_id(grant_id: &str) -> Result<(), Error> {
    if grant_id.len() == 64
        && grant_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(Error::InvalidGrantId {
            grant_id: grant_id.to_owned(),
        })
    }
}

/// A new grant token: names the key and the grant, plus random bytes so that it cannot be
/// guessed from the grant id.
fn mint_token(key_id: &KeyId, grant_id: &str) -> Result<String, Error> {
    let nonce = hex(&keystead_crypto::random_bytes(32)?);
    Ok(URL_SAFE_NO_PAD.encode(format!("{TOKEN_PREFIX}{key_id}:{grant_id}:{nonce}")))
}

/// The key and grant a token names, or `InvalidGrantToken`.
fn parse_token(token: &str) -> Result<(KeyId, String), Error> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| Error::InvalidGrantToken)?;
    let text = String::from_utf8(bytes).map_err(|_| Error::InvalidGrantToken)?;
    let rest = text
        .strip_prefix(TOKEN_PREFIX)
        .ok_or(Error::InvalidGrantToken)?;
    let mut parts = rest.split(':');
    let (Some(key_id), Some(grant_id), Some(_nonce), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::InvalidGrantToken);
    };
    let key_id = key_id.parse().map_err(|_| Error::InvalidGrantToken)?;
    check_grant_id(grant_id).map_err(|_| Error::InvalidGrantToken)?;
    Ok((key_id, grant_id.to_owned()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_foreign_tokens_are_invalid() {
        let key_id = KeyId::random();
        let grant_id = "0a".repeat(32);
        let token = mint_token(&key_id, &grant_id).expect("mint");
        assert_eq!(
            parse_token(&token).expect("own token"),
            (key_id, grant_id.clone())
        );
        assert_ne!(token, mint_token(&key_id, &grant_id).expect("mint"));
        for bad in ["", "!!", "Zm9v", &grant_id] {
            assert!(
                matches!(parse_token(bad), Err(Error::InvalidGrantToken)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn only_64_lower_case_hex_characters_are_grant_ids() {
        assert!(check_grant_id(&"ab".repeat(32)).is_ok());
        for bad in [
            "",
            "abc",
            &"AB".repeat(32),
            &"zz".repeat(32),
            &"ab".repeat(33),
        ] {
            assert!(
                matches!(check_grant_id(bad), Err(Error::InvalidGrantId { .. })),
                "{bad:?}"
            );
        }
    }
}
