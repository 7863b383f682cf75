//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases. An alias is a name in one
//! account and region that points at one key; operations that accept aliases resolve it on
//! every request, so repointing an alias takes effect at once.

use keystead_store::AliasRecord;
use keystead_types::{Caller, alias_arn};

use crate::key_state::{self, Use};
use crate::pagination::{page, page_size, resume_after};
use crate::reference::Aliases;
use crate::{AliasKey, Error, KeyService};

/// One page of ListAliases.
#[derive(Debug, Clone)]
pub struct AliasPage {
    /// The aliases, ordered by name.
    pub aliases: Vec<AliasRecord>,
    /// Where the next page starts, if there is one.
    pub next_marker: Option<String>,
}

impl KeyService {
    /// CreateAlias.
    pub async fn create_alias(
        &self,
        caller: &Caller,
        alias_name: &str,
        target_key: &str,
    ) -> Result<(), Error> {
        check_alias_name(alias_name)?;
        let _writer = self.writer.lock().await;
        let target = self.resolve(caller, target_key, Aliases::Refused)?;
        let _permit = self.authorize(caller, &target, "kms:CreateAlias")?;
        key_state::check(target.record.key_state, Use::Manage, &target.arn)?;
        let key = alias_key(caller, alias_name);
        if self.read().aliases.contains_key(&key) {
            return Err(Error::AliasExists {
                alias_arn: alias_arn(&caller.region, &caller.account_id, alias_name),
            });
        }
        let now = self.now();
        let record = AliasRecord {
            account_id: caller.account_id.clone(),
            region: caller.region.clone(),
            alias_name: alias_name.to_owned(),
            target_key_id: target.record.key_id,
            creation_date: now,
            last_updated_date: now,
        };
        self.store.create_alias(&record).await?;
        self.write_state(|s| s.aliases.insert(key, record));
        Ok(())
    }

    /// UpdateAlias: points an existing alias at another key of the same account and region.
    pub async fn update_alias(
        &self,
        caller: &Caller,
        alias_name: &str,
        target_key: &str,
    ) -> Result<(), Error> {
        check_alias_name(alias_name)?;
        let _writer = self.writer.lock().await;
        let key = alias_key(caller, alias_name);
        let mut record =
            self.read()
                .aliases
                .get(&key)
                .cloned()
                .ok_or_else(|| Error::AliasNotFound {
                    alias_arn: alias_arn(&caller.region, &caller.account_id, alias_name),
                })?;
        let target = self.resolve(caller, target_key, Aliases::Refused)?;
        let _permit = self.authorize(caller, &target, "kms:UpdateAlias")?;
        key_state::check(target.record.key_state, Use::Manage, &target.arn)?;
        record.target_key_id = target.record.key_id;
        record.last_updated_date = self.now();
        self.store.update_alias(&record).await?;
        self.write_state(|s| s.aliases.insert(key, record));
        Ok(())
    }

    /// DeleteAlias.
    pub async fn delete_alias(&self, caller: &Caller, alias_name: &str) -> Result<(), Error> {
        check_alias_name(alias_name)?;
        let _writer = self.writer.lock().await;
        let key = alias_key(caller, alias_name);
        if !self.read().aliases.contains_key(&key) {
            return Err(alias_not_found(caller, alias_name));
        }
        self.store
            .delete_alias(&caller.account_id, &caller.region, alias_name)
            .await?;
        self.write_state(|s| s.aliases.remove(&key));
        Ok(())
    }

    /// ListAliases: the caller's aliases in the caller's region, optionally only those of one
    /// key, ordered by name.
    pub fn list_aliases(
        &self,
        caller: &Caller,
        key: Option<&str>,
        limit: Option<i32>,
        marker: Option<&str>,
    ) -> Result<AliasPage, Error> {
        let size = page_size(limit, 50, 100)?;
        let after = resume_after(marker)?;
        let only_key = match key {
            Some(k) => {
                let entry = self.resolve(caller, k, Aliases::Refused)?;
                let _permit = self.authorize(caller, &entry, "kms:ListAliases")?;
                Some(entry.record.key_id)
            }
            None => None,
        };
        let state = self.read();
        let mine = state
            .aliases
            .values()
            .filter(|a| a.account_id == caller.account_id && a.region == caller.region)
            .filter(|a| only_key.is_none_or(|k| a.target_key_id == k))
            .cloned();
        let (aliases, next_marker) = page(mine, |a| a.alias_name.clone(), after.as_deref(), size);
        Ok(AliasPage {
            aliases,
            next_marker,
        })
    }
}

/// Where an alias of the caller's account and region is kept.
fn alias_key(caller: &Caller, alias_name: &str) -> AliasKey {
    (
        caller.account_id.clone(),
        caller.region.clone(),
        alias_name.to_owned(),
    )
}

fn alias_not_found(caller: &Caller, alias_name: &str) -> Error {
    Error::AliasNotFound {
        alias_arn: alias_arn(&caller.region, &caller.account_id, alias_name),
    }
}

/// AWS's rules for alias names beyond the model's length and character pattern.
fn check_alias_name(name: &str) -> Result<(), Error> {
    if !name.starts_with("alias/") {
        return Err(Error::Validation {
            message: "Alias must start with the prefix \"alias/\". Please see \
                      https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
                .to_owned(),
        });
    }
    if name.starts_with("alias/aws/") || name == "alias/aws" {
        return Err(Error::ReservedAlias);
    }
    if name.len() == "alias/".len() {
        return Err(Error::Validation {
            message: "Alias name must not be empty after the prefix \"alias/\".".to_owned(),
        });
    }
    Ok(())
}
