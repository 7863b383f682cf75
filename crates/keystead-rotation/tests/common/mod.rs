//! Shared by the integration tests: an in-memory [`SecretAccess`] that moves labels as Secrets
//! Manager does (the rotator's collaborator, not a system boundary), and PostgreSQL helpers.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use keystead_rotation::{AWSCURRENT, AWSPENDING, AWSPREVIOUS, Error, SecretAccess, SecretValue};

#[derive(Clone, Default)]
struct Version {
    value: Option<String>,
    stages: Vec<String>,
}

/// Secrets by id, each a map of version id to value and labels.
#[derive(Default)]
pub struct InMemoryAccess {
    secrets: Mutex<BTreeMap<String, BTreeMap<String, Version>>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct StoreError(&'static str);

impl InMemoryAccess {
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates a secret whose first version `v1` is AWSCURRENT.
    pub fn create(&self, secret_id: &str, value: &str) {
        let mut secrets = self.secrets.lock().expect("lock");
        let versions = secrets.entry(secret_id.to_owned()).or_default();
        versions.insert(
            "v1".to_owned(),
            Version {
                value: Some(value.to_owned()),
                stages: vec![AWSCURRENT.to_owned()],
            },
        );
    }

    /// Adds a version with no value and the label AWSPENDING, as RotateSecret does.
    pub fn add_stub(&self, secret_id: &str, token: &str) {
        let mut secrets = self.secrets.lock().expect("lock");
        let versions = secrets.get_mut(secret_id).expect("secret");
        versions.insert(
            token.to_owned(),
            Version {
                value: None,
                stages: vec![AWSPENDING.to_owned()],
            },
        );
    }

    /// Adds a version with a value and no labels.
    pub fn add_unlabelled(&self, secret_id: &str, token: &str, value: &str) {
        let mut secrets = self.secrets.lock().expect("lock");
        let versions = secrets.get_mut(secret_id).expect("secret");
        versions.insert(
            token.to_owned(),
            Version {
                value: Some(value.to_owned()),
                stages: vec![],
            },
        );
    }

    pub fn value(&self, secret_id: &str, stage: &str) -> Option<serde_json::Value> {
        let secrets = self.secrets.lock().expect("lock");
        secrets[secret_id]
            .values()
            .find(|v| v.stages.iter().any(|s| s == stage))
            .and_then(|v| v.value.as_deref())
            .map(|v| serde_json::from_str(v).expect("json"))
    }

    pub fn stages(&self, secret_id: &str) -> BTreeMap<String, Vec<String>> {
        let secrets = self.secrets.lock().expect("lock");
        secrets[secret_id]
            .iter()
            .map(|(id, v)| (id.clone(), v.stages.clone()))
            .collect()
    }
}

fn not_found() -> Error {
    Error::access(StoreError("ResourceNotFoundException: no such secret"))
}

#[async_trait]
impl SecretAccess for InMemoryAccess {
    async fn value_by_stage(
        &self,
        secret_id: &str,
        stage: &str,
    ) -> Result<Option<SecretValue>, Error> {
        let secrets = self.secrets.lock().expect("lock");
        let versions = secrets.get(secret_id).ok_or_else(not_found)?;
        Ok(versions
            .values()
            .find(|v| v.stages.iter().any(|s| s == stage))
            .and_then(|v| v.value.clone())
            .map(SecretValue::new))
    }

    async fn value_by_version(
        &self,
        secret_id: &str,
        version_id: &str,
        stage: Option<&str>,
    ) -> Result<Option<SecretValue>, Error> {
        let secrets = self.secrets.lock().expect("lock");
        let versions = secrets.get(secret_id).ok_or_else(not_found)?;
        Ok(versions
            .get(version_id)
            .filter(|v| stage.is_none_or(|stage| v.stages.iter().any(|s| s == stage)))
            .and_then(|v| v.value.clone())
            .map(SecretValue::new))
    }

    async fn version_stages(
        &self,
        secret_id: &str,
    ) -> Result<BTreeMap<String, Vec<String>>, Error> {
        let secrets = self.secrets.lock().expect("lock");
        let versions = secrets.get(secret_id).ok_or_else(not_found)?;
        Ok(versions
            .iter()
            .map(|(id, v)| (id.clone(), v.stages.clone()))
            .collect())
    }

    async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &SecretValue,
    ) -> Result<(), Error> {
        let mut secrets = self.secrets.lock().expect("lock");
        let versions = secrets.get_mut(secret_id).ok_or_else(not_found)?;
        if let Some(existing) = versions.get_mut(token) {
            match &existing.value {
                Some(v) if v == value.expose() => return Ok(()),
                Some(_) => {
                    return Err(Error::access(StoreError(
                        "ResourceExistsException: version exists with another value",
                    )));
                }
                None => existing.value = Some(value.expose().to_owned()),
            }
        } else {
            versions.insert(token.to_owned(), Version::default());
            versions.get_mut(token).expect("inserted").value = Some(value.expose().to_owned());
        }
        for (id, version) in versions.iter_mut() {
            if id != token {
                version.stages.retain(|s| s != AWSPENDING);
            } else if !version.stages.iter().any(|s| s == AWSPENDING) {
                version.stages.push(AWSPENDING.to_owned());
            }
        }
        Ok(())
    }

    async fn finish(&self, secret_id: &str, token: &str) -> Result<(), Error> {
        let mut secrets = self.secrets.lock().expect("lock");
        let versions = secrets.get_mut(secret_id).ok_or_else(not_found)?;
        if !versions.contains_key(token) {
            return Err(Error::access(StoreError(
                "ResourceNotFoundException: no such version",
            )));
        }
        if versions[token].stages.iter().any(|s| s == AWSCURRENT) {
            return Ok(());
        }
        for (id, version) in versions.iter_mut() {
            version.stages.retain(|s| s != AWSPREVIOUS);
            if id == token {
                version.stages.retain(|s| s != AWSPENDING);
                version.stages.push(AWSCURRENT.to_owned());
            } else if version.stages.iter().any(|s| s == AWSCURRENT) {
                version.stages.retain(|s| s != AWSCURRENT);
                version.stages.push(AWSPREVIOUS.to_owned());
            }
        }
        Ok(())
    }
}
