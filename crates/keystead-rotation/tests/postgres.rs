//! PostgreSQL rotation against the real server that `admin/pg` starts (skipped with a message
//! when there is none, except under CI=true where that fails).

mod common;

use std::str::FromStr;

use common::InMemoryAccess;
use keystead_rotation::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, DatabaseCredentials, Error, PostgresRotator, RotationJob,
    Rotator, Step, run_rotation,
};
use serde_json::{Value, json};
use tokio_postgres::NoTls;

/// The superuser connection and the address of the test cluster.
struct Cluster {
    admin: tokio_postgres::Client,
    host: String,
    port: u16,
}

impl Cluster {
    async fn connect() -> Option<Cluster> {
        let url = keystead_testkit::postgres::test_pg_url()?;
        let config = tokio_postgres::Config::from_str(&url).expect("a postgres URL");
        let host = match &config.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(host) => host.clone(),
            other => panic!("expected a TCP host, got {other:?}"),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let (admin, connection) = config
            .connect(NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL at {url}: {e}"));
        tokio::spawn(connection);
        Some(Cluster { admin, host, port })
    }

    /// A fresh login role with `password`, owning a table with one row, and its secret value.
    async fn role(&self, prefix: &str, password: &str) -> (String, Value) {
        let suffix = hex::encode(&*keystead_crypto::random_bytes(4).expect("rng"));
        let username = format!("{prefix}{suffix}");
        let sql: String = self
            .admin
            .query_one(
                "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)",
                &[&username, &password],
            )
            .await
            .expect("format")
            .get(0);
        self.admin.batch_execute(&sql).await.expect("create role");
        let table = format!("t_{suffix}");
        self.admin
            .batch_execute(&format!(
                "CREATE TABLE {table} (n int); INSERT INTO {table} VALUES (42); \
                 GRANT SELECT ON {table} TO \"{}\"",
                username.replace('"', "\"\"")
            ))
            .await
            .expect("table");
        let value = json!({
            "engine": "postgres",
            "host": self.host,
            "port": self.port,
            "username": username,
            "password": password,
            "dbname": "postgres",
        });
        (username, value)
    }

    /// The superuser's credentials as a master secret value.
    fn master_value(&self) -> Value {
        json!({"engine": "postgres", "host": self.host, "port": self.port,
               "username": "postgres", "password": ""})
    }
}

/// Whether `value`'s credentials log in; when they do, reads the test table through them.
async fn logs_in(value: &Value) -> bool {
    let mut config = tokio_postgres::Config::new();
    config
        .host(value["host"].as_str().expect("host"))
        .port(value["port"].as_u64().expect("port") as u16)
        .user(value["username"].as_str().expect("username"))
        .password(value["password"].as_str().expect("password"))
        .dbname("postgres");
    match config.connect(NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client.query_one("SELECT 1", &[]).await.is_ok()
        }
        Err(_) => false,
    }
}

async fn can_read_table(value: &Value, table_suffix_of: &str) -> bool {
    let mut config = tokio_postgres::Config::new();
    config
        .host(value["host"].as_str().expect("host"))
        .port(value["port"].as_u64().expect("port") as u16)
        .user(value["username"].as_str().expect("username"))
        .password(value["password"].as_str().expect("password"))
        .dbname("postgres");
    let Ok((client, connection)) = config.connect(NoTls).await else {
        return false;
    };
    tokio::spawn(connection);
    let table = format!("t_{}", &table_suffix_of[table_suffix_of.len() - 8..]);
    client
        .query_one(&format!("SELECT n FROM {table}"), &[])
        .await
        .is_ok_and(|row| row.get::<_, i32>(0) == 42)
}

async fn rotate(rotator: &dyn Rotator, access: &InMemoryAccess, secret_id: &str, token: &str) {
    run_rotation(
        rotator,
        access,
        secret_id,
        token,
        Step::CreateSecret,
        |_| async { Ok(()) },
    )
    .await
    .expect("rotation");
}

#[tokio::test]
async fn single_user_rotation_changes_the_password_and_keeps_the_old_one_as_previous() {
    let Some(cluster) = Cluster::connect().await else {
        return;
    };
    // A name that needs quoting, and an old password with a quote in it.
    let (username, value) = cluster.role("o'brien \"app\" ", "old'pass").await;
    let access = InMemoryAccess::new();
    access.create("db", &value.to_string());
    assert!(logs_in(&value).await);

    rotate(&PostgresRotator::single_user(), &access, "db", "token-1").await;

    let current = access.value("db", AWSCURRENT).expect("current");
    let previous = access.value("db", AWSPREVIOUS).expect("previous");
    assert_eq!(current["username"], username.as_str());
    assert_ne!(current["password"], previous["password"]);
    assert_eq!(previous, value);
    assert_eq!(current["password"].as_str().expect("password").len(), 32);
    assert!(logs_in(&current).await, "the new password works");
    assert!(
        !logs_in(&previous).await,
        "the old password no longer works"
    );
    assert!(can_read_table(&current, &username).await);
    let stages = access.stages("db");
    assert_eq!(stages["token-1"], vec![AWSCURRENT.to_owned()]);
    assert_eq!(stages["v1"], vec![AWSPREVIOUS.to_owned()]);
    assert!(access.value("db", AWSPENDING).is_none());

    // A second rotation starts from the new current value.
    rotate(&PostgresRotator::single_user(), &access, "db", "token-2").await;
    let third = access.value("db", AWSCURRENT).expect("current");
    assert!(logs_in(&third).await);
    assert!(!logs_in(&current).await);
    assert_eq!(access.value("db", AWSPREVIOUS), Some(current));
}

#[tokio::test]
async fn alternating_users_flip_between_user_and_clone_and_both_keep_working() {
    let Some(cluster) = Cluster::connect().await else {
        return;
    };
    let (username, mut value) = cluster.role("app_", "first-pass").await;
    value["masterarn"] = json!("master");
    let access = InMemoryAccess::new();
    access.create("db", &value.to_string());
    access.create("master", &cluster.master_value().to_string());
    let rotator = PostgresRotator::alternating_users(None);

    rotate(&rotator, &access, "db", "token-1").await;
    let first = access.value("db", AWSCURRENT).expect("current");
    assert_eq!(first["username"], format!("{username}_clone").as_str());
    assert_eq!(
        first["masterarn"], "master",
        "other fields are carried over"
    );
    assert!(logs_in(&first).await, "the clone logs in");
    assert!(logs_in(&value).await, "the original user still logs in");
    assert!(
        can_read_table(&first, &username).await,
        "the clone has the user's grants"
    );

    rotate(&rotator, &access, "db", "token-2").await;
    let second = access.value("db", AWSCURRENT).expect("current");
    assert_eq!(second["username"], username.as_str());
    assert_ne!(second["password"], value["password"]);
    assert!(
        logs_in(&second).await,
        "the user logs in with its new password"
    );
    assert!(
        logs_in(&first).await,
        "the clone keeps working until its next turn"
    );
    assert!(!logs_in(&value).await, "the user's old password is gone");
    assert_eq!(access.value("db", AWSPREVIOUS), Some(first));
}

#[tokio::test]
async fn alternating_users_can_take_the_master_from_configuration() {
    let Some(cluster) = Cluster::connect().await else {
        return;
    };
    let (username, value) = cluster.role("cfg_", "pass-1").await;
    let access = InMemoryAccess::new();
    access.create("db", &value.to_string());
    let master = DatabaseCredentials::new(&cluster.host, cluster.port, "postgres", "", None);
    rotate(
        &PostgresRotator::alternating_users(Some(master)),
        &access,
        "db",
        "t1",
    )
    .await;
    let current = access.value("db", AWSCURRENT).expect("current");
    assert_eq!(current["username"], format!("{username}_clone").as_str());
    assert!(logs_in(&current).await);
}

#[tokio::test]
async fn alternating_users_without_a_master_fail_at_set_secret() {
    let Some(cluster) = Cluster::connect().await else {
        return;
    };
    let (_, value) = cluster.role("nomaster_", "pass-1").await;
    let access = InMemoryAccess::new();
    access.create("db", &value.to_string());
    let result = run_rotation(
        &PostgresRotator::alternating_users(None),
        &access,
        "db",
        "t1",
        Step::CreateSecret,
        |_| async { Ok(()) },
    )
    .await;
    assert!(
        matches!(result, Err(Error::MalformedSecret { .. })),
        "{result:?}"
    );
    assert!(logs_in(&access.value("db", AWSCURRENT).expect("current")).await);
}

/// Runs a rotation that crashes after step `crash_after`, either after recording it (`recorded`)
/// or just before, checks what must hold at the crash, then resumes from the recorded step.
async fn crash_and_resume(cluster: &Cluster, alternating: bool, crash_after: Step, recorded: bool) {
    let (_, mut value) = cluster.role("crash_", "before-crash").await;
    value["masterarn"] = json!("master");
    let access = InMemoryAccess::new();
    access.create("db", &value.to_string());
    access.create("master", &cluster.master_value().to_string());
    access.add_stub("db", "tok");
    let rotator = if alternating {
        PostgresRotator::alternating_users(None)
    } else {
        PostgresRotator::single_user()
    };

    let mut job = RotationJob::new("db", "tok");
    let saved = std::sync::Mutex::new(job.clone());
    let crashed = job
        .run(&rotator, &access, |progress: RotationJob| {
            // The step just done is the one before `next_step`.
            let done = match progress.next_step {
                None => Step::FinishSecret,
                Some(next) => {
                    Step::ALL[Step::ALL.iter().position(|s| *s == next).expect("step") - 1]
                }
            };
            let mut saved = saved.lock().expect("lock");
            let result = if done == crash_after {
                if recorded {
                    *saved = progress;
                }
                Err(Error::access(std::io::Error::other("simulated crash")))
            } else {
                *saved = progress;
                Ok(())
            };
            async move { result }
        })
        .await;
    assert!(crashed.is_err(), "the simulated crash stops the rotation");

    // At the crash: AWSCURRENT still works, except in the single-user strategy between setSecret
    // and finishSecret, where (as in AWS) only the pending password works.
    let current = access.value("db", AWSCURRENT).expect("current");
    let single_user_gap =
        !alternating && crash_after >= Step::SetSecret && crash_after < Step::FinishSecret;
    if !single_user_gap {
        assert!(
            logs_in(&current).await,
            "AWSCURRENT works after a crash after {crash_after}"
        );
    } else {
        let pending = access.value("db", AWSPENDING).expect("pending");
        assert!(
            logs_in(&pending).await,
            "AWSPENDING works after a crash after {crash_after}"
        );
    }

    // Restart: resume from the recorded progress.
    let mut resumed = saved.into_inner().expect("lock");
    if !recorded {
        assert_eq!(
            job.next_step,
            Some(crash_after),
            "the unrecorded step is still next"
        );
    }
    let expected_next = if recorded {
        crash_after.next()
    } else {
        Some(crash_after)
    };
    assert_eq!(resumed.next_step, expected_next);
    resumed
        .run(&rotator, &access, |_| async { Ok(()) })
        .await
        .expect("the resumed rotation completes");
    assert!(resumed.is_finished());

    let current = access.value("db", AWSCURRENT).expect("current");
    assert!(logs_in(&current).await, "AWSCURRENT works after resuming");
    assert_eq!(access.value("db", AWSPREVIOUS), Some(value.clone()));
    assert!(access.value("db", AWSPENDING).is_none());
    if !alternating {
        assert!(!logs_in(&value).await, "the old password no longer works");
    }
}

#[tokio::test]
async fn a_crash_between_any_two_steps_still_completes_the_rotation() {
    let Some(cluster) = Cluster::connect().await else {
        return;
    };
    for alternating in [false, true] {
        for step in Step::ALL {
            for recorded in [true, false] {
                crash_and_resume(&cluster, alternating, step, recorded).await;
            }
        }
    }
}

#[tokio::test]
async fn rerunning_any_step_is_harmless() {
    let Some(cluster) = Cluster::connect().await else {
        return;
    };
    for rotator in [
        PostgresRotator::single_user(),
        PostgresRotator::alternating_users(None),
    ] {
        let (_, mut value) = cluster.role("idem_", "idem-pass").await;
        value["masterarn"] = json!("master");
        let access = InMemoryAccess::new();
        access.create("db", &value.to_string());
        access.create("master", &cluster.master_value().to_string());
        for step in Step::ALL {
            rotator
                .run_step(step, "db", "tok", &access)
                .await
                .expect("first run");
            let stages = access.stages("db");
            let pending = access.value("db", AWSPENDING);
            rotator
                .run_step(step, "db", "tok", &access)
                .await
                .expect("second run");
            assert_eq!(
                access.stages("db"),
                stages,
                "re-running {step} moves no label"
            );
            assert_eq!(
                access.value("db", AWSPENDING),
                pending,
                "re-running {step} keeps the value"
            );
        }
        let current = access.value("db", AWSCURRENT).expect("current");
        assert!(logs_in(&current).await);
        // After the rotation every step is a no-op, even from the start.
        for step in Step::ALL {
            rotator
                .run_step(step, "db", "tok", &access)
                .await
                .expect("after the end");
        }
        assert_eq!(access.value("db", AWSCURRENT), Some(current.clone()));
        assert!(logs_in(&current).await);
    }
}

#[tokio::test]
async fn a_token_that_is_not_pending_is_refused() {
    let Some(cluster) = Cluster::connect().await else {
        return;
    };
    let (_, value) = cluster.role("notpending_", "np-pass").await;
    let access = InMemoryAccess::new();
    access.create("db", &value.to_string());
    access.add_unlabelled("db", "old-token", &value.to_string());
    let rotator = PostgresRotator::single_user();
    for step in Step::ALL {
        let result = rotator.run_step(step, "db", "old-token", &access).await;
        assert!(
            matches!(result, Err(Error::VersionNotPending { .. })),
            "{step}: {result:?}"
        );
    }
    // A later step for a token that was never created is refused too.
    let result = rotator
        .run_step(Step::SetSecret, "db", "unknown", &access)
        .await;
    assert!(
        matches!(result, Err(Error::VersionNotPending { .. })),
        "{result:?}"
    );
    assert!(logs_in(&value).await);
}

#[tokio::test]
async fn a_current_password_that_no_longer_works_fails_set_secret_without_damage() {
    let Some(cluster) = Cluster::connect().await else {
        return;
    };
    let (_, mut value) = cluster.role("broken_", "real-pass").await;
    value["password"] = json!("wrong-pass");
    let access = InMemoryAccess::new();
    access.create("db", &value.to_string());
    let result = run_rotation(
        &PostgresRotator::single_user(),
        &access,
        "db",
        "t1",
        Step::CreateSecret,
        |_| async { Ok(()) },
    )
    .await;
    assert!(
        matches!(result, Err(Error::LoginFailed { .. })),
        "{result:?}"
    );
    assert_eq!(access.value("db", AWSCURRENT), Some(value));
}
