//! Service tests over a real SQLite store and an in-memory stand-in for KMS.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use keystead_store::Store;
use keystead_store_sqlite::SqliteStore;
use keystead_types::{Caller, Clock, RequestSource, UnixMillis};
use zeroize::Zeroizing;

use super::*;

/// A fake KMS: the "ciphertext" of a data key is the key itself, prefixed by the key name and
/// the context, so a wrong context fails. `disabled` makes every call fail as a disabled key.
#[derive(Default)]
struct FakeKms {
    disabled: AtomicBool,
    calls: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl SecretsKms for FakeKms {
    async fn generate_data_key(
        &self,
        caller: &Caller,
        key: &str,
        context: &BTreeMap<String, String>,
    ) -> Result<GeneratedDataKey, KmsFailure> {
        self.check(caller)?;
        let key_bytes = [9u8; 32];
        let mut blob = format!("{key}|{context:?}|").into_bytes();
        blob.extend_from_slice(&key_bytes);
        Ok(GeneratedDataKey {
            plaintext: Zeroizing::new(key_bytes.to_vec()),
            ciphertext: blob,
            key_arn: format!(
                "arn:aws:kms:{}:{}:key/{key}",
                caller.region, caller.account_id
            ),
        })
    }

    async fn decrypt(
        &self,
        caller: &Caller,
        blob: &[u8],
        context: &BTreeMap<String, String>,
    ) -> Result<Zeroizing<Vec<u8>>, KmsFailure> {
        self.check(caller)?;
        let expected = format!("|{context:?}|");
        let text = String::from_utf8_lossy(&blob[..blob.len() - 32]).to_string();
        if !text.ends_with(&expected) {
            return Err(KmsFailure {
                kind: KmsFailureKind::Other,
                message: "context mismatch".to_owned(),
            });
        }
        Ok(Zeroizing::new(blob[blob.len() - 32..].to_vec()))
    }

    async fn default_key(&self, caller: &Caller) -> Result<String, KmsFailure> {
        self.check(caller)?;
        Ok("default".to_owned())
    }
}

impl FakeKms {
    fn check(&self, caller: &Caller) -> Result<(), KmsFailure> {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(caller.via_service.clone().unwrap_or_default());
        if self.disabled.load(Ordering::SeqCst) {
            return Err(KmsFailure {
                kind: KmsFailureKind::KeyUnusable,
                message: "key is disabled.".to_owned(),
            });
        }
        Ok(())
    }
}

struct FixedClock;
impl Clock for FixedClock {
    fn now(&self) -> UnixMillis {
        UnixMillis(1_700_000_000_000)
    }
}

fn caller(region: &str) -> Caller {
    Caller {
        account_id: "111122223333".parse().expect("account"),
        region: region.parse().expect("region"),
        access_key_id: "AKIATEST".to_owned(),
        user: None,
        role_session: None,
        mfa_authenticated_at: None,
        session_created_at: None,
        service: None,
        via_service: None,
        source: RequestSource::default(),
    }
}

async fn service(dir: &tempfile::TempDir, kms: Arc<FakeKms>) -> SecretsService {
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("db.sqlite")).expect("open store"));
    let snapshot = store.load_secrets().await.expect("load");
    SecretsService::open(snapshot, store, kms, Arc::new(FixedClock)).expect("open service")
}

fn text(s: &str) -> SecretValue {
    SecretValue::String(Zeroizing::new(s.to_owned()))
}

fn read(v: &StoredVersion) -> String {
    v.value.expose_string().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_created_secret_reads_back_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kms = Arc::new(FakeKms::default());
    let svc = service(&dir, kms.clone()).await;
    let c = caller("us-east-1");
    let created = svc
        .create_secret(
            &c,
            CreateSecretInput {
                name: "app/db".to_owned(),
                value: Some(text("s3cret")),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    assert!(
        created
            .arn
            .starts_with("arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-")
    );
    assert_eq!(
        created.arn.len(),
        "arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-".len() + 6
    );
    let got = svc
        .get_secret_value(&c, "app/db", &VersionSelector::default())
        .await
        .expect("get");
    assert_eq!(read(&got), "s3cret");
    assert!(
        kms.calls
            .lock()
            .expect("lock")
            .iter()
            .all(|v| v == "secretsmanager.us-east-1.amazonaws.com")
    );
    drop(svc);
    let svc = service(&dir, kms).await;
    let got = svc
        .get_secret_value(&c, &created.arn, &VersionSelector::default())
        .await
        .expect("get after restart");
    assert_eq!(read(&got), "s3cret");
}

#[tokio::test]
async fn put_secret_value_moves_awscurrent_and_awsprevious() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = service(&dir, Arc::new(FakeKms::default())).await;
    let c = caller("us-east-1");
    let created = svc
        .create_secret(
            &c,
            CreateSecretInput {
                name: "n".to_owned(),
                value: Some(text("one")),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    let token = "a".repeat(32);
    let put = |v: &'static str| PutValueInput {
        value: text(v),
        client_request_token: Some(token.clone()),
        version_stages: Vec::new(),
    };
    let second = svc
        .put_secret_value(&c, "n", put("two"))
        .await
        .expect("put");
    assert_eq!(second.version_stages, vec![AWSCURRENT.to_owned()]);
    // Same token, same value: a no-op; same token, other value: refused.
    svc.put_secret_value(&c, "n", put("two"))
        .await
        .expect("idempotent retry");
    assert!(matches!(
        svc.put_secret_value(&c, "n", put("three")).await,
        Err(Error::VersionExists)
    ));
    let previous = svc
        .get_secret_value(
            &c,
            "n",
            &VersionSelector {
                version_id: None,
                version_stage: Some(AWSPREVIOUS.to_owned()),
            },
        )
        .await
        .expect("previous");
    assert_eq!(read(&previous), "one");
    assert_eq!(Some(previous.version_id), created.version_id);
}

#[tokio::test]
async fn a_disabled_key_fails_reads_until_it_is_enabled_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kms = Arc::new(FakeKms::default());
    let svc = service(&dir, kms.clone()).await;
    let c = caller("us-east-1");
    svc.create_secret(
        &c,
        CreateSecretInput {
            name: "n".to_owned(),
            value: Some(text("v")),
            ..Default::default()
        },
    )
    .await
    .expect("create");
    kms.disabled.store(true, Ordering::SeqCst);
    assert!(matches!(
        svc.get_secret_value(&c, "n", &VersionSelector::default())
            .await,
        Err(Error::DecryptionFailure { .. })
    ));
    kms.disabled.store(false, Ordering::SeqCst);
    svc.get_secret_value(&c, "n", &VersionSelector::default())
        .await
        .expect("readable again");
}

#[tokio::test]
async fn a_replica_follows_its_primary_and_refuses_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = service(&dir, Arc::new(FakeKms::default())).await;
    let east = caller("us-east-1");
    let west = caller("us-west-2");
    let created = svc
        .create_secret(
            &east,
            CreateSecretInput {
                name: "rds/creds".to_owned(),
                value: Some(text("v1")),
                replicas: vec![ReplicaRequest {
                    region: "us-west-2".parse().expect("region"),
                    kms_key_id: None,
                }],
                ..Default::default()
            },
        )
        .await
        .expect("create");
    assert_eq!(
        created.replicas[0].status,
        keystead_store::ReplicaStatus::InSync
    );
    svc.put_secret_value(
        &east,
        "rds/creds",
        PutValueInput {
            value: text("v2"),
            client_request_token: None,
            version_stages: Vec::new(),
        },
    )
    .await
    .expect("put");
    let got = svc
        .get_secret_value(&west, "rds/creds", &VersionSelector::default())
        .await
        .expect("replica read");
    assert_eq!(read(&got), "v2");
    assert!(got.arn.starts_with("arn:aws:secretsmanager:us-west-2:"));
    assert!(matches!(
        svc.put_secret_value(
            &west,
            "rds/creds",
            PutValueInput {
                value: text("x"),
                client_request_token: None,
                version_stages: Vec::new()
            }
        )
        .await,
        Err(Error::InvalidRequest { .. })
    ));
}

#[tokio::test]
async fn deletion_needs_a_window_of_seven_to_thirty_days_and_can_be_undone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = service(&dir, Arc::new(FakeKms::default())).await;
    let c = caller("us-east-1");
    svc.create_secret(
        &c,
        CreateSecretInput {
            name: "n".to_owned(),
            value: Some(text("v")),
            ..Default::default()
        },
    )
    .await
    .expect("create");
    assert!(matches!(
        svc.delete_secret(&c, "n", Some(6), false).await,
        Err(Error::InvalidParameter { .. })
    ));
    svc.delete_secret(&c, "n", Some(7), false)
        .await
        .expect("delete");
    assert!(matches!(
        svc.get_secret_value(&c, "n", &VersionSelector::default())
            .await,
        Err(Error::InvalidRequest { .. })
    ));
    svc.restore_secret(&c, "n").await.expect("restore");
    svc.get_secret_value(&c, "n", &VersionSelector::default())
        .await
        .expect("readable");
    svc.delete_secret(&c, "n", None, true)
        .await
        .expect("force delete");
    assert!(matches!(
        svc.describe_secret(&c, "n"),
        Err(Error::SecretNotFound)
    ));
}

#[test]
fn random_passwords_follow_the_rules() {
    let rules = PasswordRules {
        length: Some(20),
        exclude_punctuation: true,
        ..Default::default()
    };
    let p = ops::password::random_password(&rules).expect("password");
    assert_eq!(p.len(), 20);
    assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(p.chars().any(|c| c.is_ascii_digit()));
}

#[tokio::test]
async fn a_rotation_puts_a_pending_version_and_finishes_by_moving_awscurrent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = service(&dir, Arc::new(FakeKms::default())).await;
    let c = caller("us-east-1");
    let created = svc
        .create_secret(
            &c,
            CreateSecretInput {
                name: "db".to_owned(),
                value: Some(text("old")),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    let first = created.version_id.expect("first version");
    let started = svc
        .rotate_secret(
            &c,
            "db",
            RotateSecretInput {
                lambda_arn: Some("arn:aws:lambda:us-east-1:111122223333:function:r".to_owned()),
                rules: Some(RotationRules {
                    automatically_after_days: Some(1),
                    ..Default::default()
                }),
                lambda_required: true,
                client_request_token: Some("b".repeat(36)),
                rotate_immediately: true,
            },
        )
        .await
        .expect("rotate");
    let token = started.version_id.expect("a rotation token");
    assert_eq!(token, "b".repeat(36));
    let running = svc.rotations_in_progress();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].job.next_step, "createSecret");
    assert!(
        svc.rotations_due(UnixMillis(1_700_000_000_000 + 3 * 86_400_000))
            .is_empty(),
        "a secret with a rotation in progress is not due again"
    );
    let again = svc
        .rotate_secret(
            &c,
            "db",
            RotateSecretInput {
                rotate_immediately: true,
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(again, Err(Error::InvalidRequest { .. })));
    let retried = svc
        .rotate_secret(
            &c,
            "db",
            RotateSecretInput {
                client_request_token: Some("b".repeat(36)),
                rotate_immediately: true,
                ..Default::default()
            },
        )
        .await
        .expect("a retry with the same token is the same answer");
    assert_eq!(retried.version_id.as_deref(), Some(token.as_str()));
    svc.rotation_put_pending(&created.arn, &token, text("new"))
        .await
        .expect("pending");
    svc.rotation_put_pending(&created.arn, &token, text("new"))
        .await
        .expect("pending again is a no-op");
    let pending = svc
        .rotation_value(&created.arn, None, Some(AWSPENDING))
        .await
        .expect("read pending")
        .expect("a pending value");
    assert_eq!(pending.expose_string(), Some("new"));
    svc.rotation_finish(&created.arn, &token)
        .await
        .expect("finish");
    svc.rotation_finish(&created.arn, &token)
        .await
        .expect("finish again");
    let stages = svc.rotation_version_stages(&created.arn).expect("stages");
    assert_eq!(stages[&token], vec![AWSCURRENT.to_owned()]);
    assert_eq!(stages[&first], vec![AWSPREVIOUS.to_owned()]);
    svc.save_rotation_progress(&created.arn, &token, None)
        .await
        .expect("progress");
    svc.record_rotation(&created.arn, Ok(()), None)
        .await
        .expect("record");
    let view = svc.describe_secret(&c, "db").expect("describe");
    assert!(view.record.rotation.last_rotated_at.is_some());
    assert!(view.record.rotation.job.is_none());
    assert!(svc.rotations_in_progress().is_empty());
}

#[tokio::test]
async fn rotate_secret_refuses_while_awspending_is_on_another_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = service(&dir, Arc::new(FakeKms::default())).await;
    let c = caller("us-east-1");
    let created = svc
        .create_secret(
            &c,
            CreateSecretInput {
                name: "p".to_owned(),
                value: Some(text("old")),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    svc.rotation_put_pending(&created.arn, &"c".repeat(36), text("half"))
        .await
        .expect("pending");
    let refused = svc
        .rotate_secret(
            &c,
            "p",
            RotateSecretInput {
                lambda_arn: Some("keystead:postgres-single-user".to_owned()),
                rotate_immediately: true,
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(refused, Err(Error::InvalidRequest { .. })));
}

#[tokio::test]
async fn rotate_secret_without_a_rotator_is_refused_and_bad_rules_are_invalid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = service(&dir, Arc::new(FakeKms::default())).await;
    let c = caller("us-east-1");
    svc.create_secret(
        &c,
        CreateSecretInput {
            name: "q".to_owned(),
            value: Some(text("v")),
            ..Default::default()
        },
    )
    .await
    .expect("create");
    let no_lambda = svc
        .rotate_secret(
            &c,
            "q",
            RotateSecretInput {
                lambda_required: true,
                rotate_immediately: true,
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(no_lambda, Err(Error::InvalidRequest { .. })));
    let bad_rules = svc
        .rotate_secret(
            &c,
            "q",
            RotateSecretInput {
                rules: Some(RotationRules {
                    automatically_after_days: Some(5000),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(bad_rules, Err(Error::InvalidParameter { .. })));
}

#[tokio::test]
async fn the_rotation_adapter_reaches_only_the_rotated_secret_and_its_master() {
    use keystead_rotation::SecretAccess;
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = service(&dir, Arc::new(FakeKms::default())).await;
    let c = caller("us-east-1");
    let mut arns = Vec::new();
    for name in ["own", "master", "other"] {
        let created = svc
            .create_secret(
                &c,
                CreateSecretInput {
                    name: name.to_owned(),
                    value: Some(text(name)),
                    ..Default::default()
                },
            )
            .await
            .expect("create");
        arns.push(created.arn);
    }
    let access = RotationAccess::new(&svc, &arns[0])
        .expect("access")
        .with_master(&arns[1])
        .expect("master");
    let own = access
        .value_by_stage("own", AWSCURRENT)
        .await
        .expect("own")
        .expect("value");
    assert_eq!(own.expose(), "own");
    let master = access
        .value_by_stage(&arns[1], AWSCURRENT)
        .await
        .expect("master")
        .expect("value");
    assert_eq!(master.expose(), "master");
    assert!(access.value_by_stage(&arns[2], AWSCURRENT).await.is_err());
    let value = keystead_rotation::SecretValue::new("x");
    assert!(
        access
            .put_pending(&arns[1], &"d".repeat(36), &value)
            .await
            .is_err(),
        "the master secret is read-only"
    );
    access
        .put_pending(&arns[0], &"d".repeat(36), &value)
        .await
        .expect("pending on the own secret");
    access
        .finish(&arns[0], &"d".repeat(36))
        .await
        .expect("finish");
    assert_eq!(
        access
            .value_by_stage(&arns[0], keystead_rotation::AWSPREVIOUS)
            .await
            .expect("previous")
            .expect("value")
            .expose(),
        "own"
    );
}

#[tokio::test]
async fn block_public_policy_refuses_a_wildcard_principal_and_keeps_the_old_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = service(&dir, Arc::new(FakeKms::default())).await;
    let c = caller("us-east-1");
    svc.create_secret(
        &c,
        CreateSecretInput {
            name: "shared".to_owned(),
            value: Some(text("v")),
            ..Default::default()
        },
    )
    .await
    .expect("create");
    let policy = |principal: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},
               "Action":"secretsmanager:GetSecretValue","Resource":"*"}}]}}"#
        )
    };
    let account = policy(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#);
    let public = policy(r#""*""#);
    svc.put_resource_policy(&c, "shared", account.clone(), true)
        .await
        .expect("an account principal is not public");
    assert!(matches!(
        svc.put_resource_policy(&c, "shared", public.clone(), true)
            .await,
        Err(Error::PublicPolicy)
    ));
    let kept = svc.resource_policy(&c, "shared").expect("get");
    assert_eq!(kept.resource_policy.as_deref(), Some(account.as_str()));
    // A missing secret is reported as such before the policy's reach is judged.
    assert!(matches!(
        svc.put_resource_policy(&c, "missing", public.clone(), true)
            .await,
        Err(Error::SecretNotFound)
    ));
    // Without the flag, AWS's default, the public policy is stored.
    svc.put_resource_policy(&c, "shared", public.clone(), false)
        .await
        .expect("not blocked by default");
    let stored = svc.resource_policy(&c, "shared").expect("get");
    assert_eq!(stored.resource_policy.as_deref(), Some(public.as_str()));
}
