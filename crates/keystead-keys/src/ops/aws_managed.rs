//! AWS-managed keys (`alias/aws/<service>`): the key a service such as Secrets Manager uses
//! when a resource names none, created on first use in the account and region as AWS does.
//! The alias name is reserved, so only this path (never CreateAlias) makes one.

use std::sync::Arc;

use keystead_crypto::KeyMaterial;
use keystead_store::{AliasRecord, KeyRecord, KeyVersionRecord};
use keystead_types::{AccountId, KeyId, KeyState, Region, key_arn};

use crate::{Error, KeyEntry, KeyService, Version, policy};

impl KeyService {
    /// The ARN of the AWS-managed key `alias/aws/<service>` of `account` in `region` (e.g.
    /// `service` = `secretsmanager`), creating the key and its alias if they do not exist yet.
    pub async fn aws_managed_key(
        &self,
        account: &AccountId,
        region: &Region,
        service: &str,
    ) -> Result<String, Error> {
        let alias_name = format!("alias/aws/{service}");
        let alias_key = (account.clone(), region.clone(), alias_name.clone());
        if let Some(alias) = self.read().aliases.get(&alias_key) {
            return Ok(key_arn(region, account, &alias.target_key_id));
        }
        let _writer = self.writer.lock().await;
        if let Some(alias) = self.read().aliases.get(&alias_key) {
            return Ok(key_arn(region, account, &alias.target_key_id));
        }
        let key_id = KeyId::random();
        let now = self.now();
        let policy_text = aws_managed_policy(account, region, service);
        let compiled = policy::parse(&policy_text)?;
        let record = KeyRecord {
            key_id,
            account_id: account.clone(),
            region: region.clone(),
            description: format!(
                "Default key that protects my {service} data when no other key is defined"
            ),
            key_state: KeyState::Enabled,
            key_usage: "ENCRYPT_DECRYPT".to_owned(),
            key_spec: "SYMMETRIC_DEFAULT".to_owned(),
            origin: "AWS_KMS".to_owned(),
            creation_date: now,
            deletion_date: None,
            pending_deletion_window_in_days: None,
            policy: policy_text,
            tags: Vec::new(),
            rotation: None,
            multi_region: false,
        };
        let material = KeyMaterial::generate()?;
        let version = KeyVersionRecord {
            key_id,
            version: 1,
            wrapped_material: self.seal(&material, &key_id, 1)?,
            created_at: now,
            rotation_type: None,
        };
        self.store.create_key(&record, &version).await?;
        self.publish(KeyEntry::new(
            record,
            vec![Arc::new(Version {
                material,
                created_at: now,
                rotation_type: None,
            })],
            Arc::new(compiled),
        ));
        let alias = AliasRecord {
            account_id: account.clone(),
            region: region.clone(),
            alias_name,
            target_key_id: key_id,
            creation_date: now,
            last_updated_date: now,
        };
        self.store.create_alias(&alias).await?;
        self.write_state(|s| s.aliases.insert(alias_key, alias));
        Ok(key_arn(region, account, &key_id))
    }
}

/// The key policy AWS gives an AWS-managed key (as `aws/secretsmanager` has it): every principal
/// of the account may use the key through the service, and the account may read its metadata.
/// Nobody may use it directly.
fn aws_managed_policy(account: &AccountId, region: &Region, service: &str) -> String {
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "auto-{service}-2",
  "Statement" : [ {{
    "Sid" : "Allow access through AWS {service} for all principals in the account that are authorized to use it",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "*"
    }},
    "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:CreateGrant", "kms:DescribeKey" ],
    "Resource" : "*",
    "Condition" : {{
      "StringEquals" : {{
        "kms:CallerAccount" : "{account}",
        "kms:ViaService" : "{service}.{region}.amazonaws.com"
      }}
    }}
  }}, {{
    "Sid" : "Allow data keys through AWS {service} for all principals in the account that are authorized to use it",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "*"
    }},
    "Action" : "kms:GenerateDataKey*",
    "Resource" : "*",
    "Condition" : {{
      "StringEquals" : {{
        "kms:CallerAccount" : "{account}"
      }},
      "StringLike" : {{
        "kms:ViaService" : "{service}.*.amazonaws.com"
      }}
    }}
  }}, {{
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:aws:iam::{account}:root"
    }},
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant" ],
    "Resource" : "*"
  }} ]
}}"#
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use keystead_crypto::RootKey;
    use keystead_store::Store;
    use keystead_store_sqlite::SqliteStore;
    use keystead_types::{Caller, RequestSource, SystemClock};

    use crate::{Error, KeyService};

    async fn service(dir: &tempfile::TempDir) -> KeyService {
        let root = RootKey::ephemeral().expect("root key");
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("k.db")).expect("open store"));
        let snapshot = store.load().await.expect("load");
        KeyService::open(
            snapshot,
            store,
            Arc::new(root),
            Arc::new(SystemClock::default()),
        )
        .expect("open service")
    }

    fn caller(via: Option<&str>) -> Caller {
        Caller {
            account_id: "111122223333".parse().expect("account"),
            region: "us-east-1".parse().expect("region"),
            access_key_id: "AKIAEXAMPLE".to_owned(),
            user: None,
            role_session: None,
            mfa_authenticated_at: None,
            session_created_at: None,
            service: None,
            via_service: via.map(str::to_owned),
            source: RequestSource::default(),
        }
    }

    #[tokio::test]
    async fn the_aws_managed_key_is_created_once_and_usable_only_through_its_service() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = service(&dir).await;
        let via = caller(Some("secretsmanager.us-east-1.amazonaws.com"));
        let first = keys
            .aws_managed_key(&via.account_id, &via.region, "secretsmanager")
            .await
            .expect("create");
        let again = keys
            .aws_managed_key(&via.account_id, &via.region, "secretsmanager")
            .await
            .expect("reuse");
        assert_eq!(first, again);
        let context = BTreeMap::new();
        let data_key = keys
            .generate_data_key(&via, "alias/aws/secretsmanager", 32, &context)
            .expect("through the service");
        assert_eq!(data_key.key_arn, first);
        keys.decrypt(&via, &data_key.ciphertext, &context, None, None)
            .expect("decrypt through the service");
        // Directly, even the account's root user may not use it.
        let direct = caller(None);
        assert!(matches!(
            keys.generate_data_key(&direct, "alias/aws/secretsmanager", 32, &context),
            Err(Error::AccessDenied { .. })
        ));
        // The alias stays reserved for CreateAlias.
        assert!(matches!(
            keys.create_alias(&direct, "alias/aws/secretsmanager", &first)
                .await,
            Err(Error::ReservedAlias)
        ));
    }
}
