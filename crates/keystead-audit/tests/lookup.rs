//! `AuditLog::lookup`: every LookupAttributes key, time ranges, paging, newest-first order,
//! account isolation, and the index being rebuilt or caught up from the log.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use common::*;
use keystead_audit::{
    AuditEvent, AuditLog, Error, IdentityType, LookupAttribute, LookupPage, LookupQuery,
    OffsetDateTime, Resource, SessionContext, SessionIssuer, UserIdentity,
};
use keystead_types::UnixMillis;

const ACCOUNT: &str = "111122223333";
const OTHER: &str = "444455556666";
const BASE: i64 = 1_750_000_000;

fn temp() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = temp.path().join("audit");
    let key = temp.path().join("signing.key");
    (temp, dir, key)
}

fn key_arn(account: &str, n: u64) -> String {
    format!("arn:aws:kms:us-east-1:{account}:key/key-{n:04}")
}

/// Record `n` of `account`: at BASE + n seconds; its name, user, key and source vary with `n`.
fn record(n: u64, account: &str) -> AuditEvent {
    let identity = if n % 3 == 2 {
        UserIdentity {
            identity_type: Some(IdentityType::AssumedRole),
            principal_id: Some("AROAEXAMPLE:session".into()),
            arn: Some(format!(
                "arn:aws:sts::{account}:assumed-role/Deployer/session"
            )),
            account_id: Some(account.into()),
            access_key_id: Some(format!("ASIA{n:016}")),
            session_context: Some(SessionContext {
                session_issuer: Some(SessionIssuer {
                    issuer_type: "Role".into(),
                    principal_id: "AROAEXAMPLE".into(),
                    arn: format!("arn:aws:iam::{account}:role/Deployer"),
                    account_id: account.into(),
                    user_name: "Deployer".into(),
                }),
                ..SessionContext::default()
            }),
            ..UserIdentity::default()
        }
    } else {
        UserIdentity {
            identity_type: Some(IdentityType::IamUser),
            principal_id: Some("AIDAEXAMPLE".into()),
            arn: Some(format!("arn:aws:iam::{account}:user/Alice")),
            account_id: Some(account.into()),
            access_key_id: Some(format!("AKIA{n:016}")),
            user_name: Some("Alice".into()),
            ..UserIdentity::default()
        }
    };
    let name = ["Decrypt", "Encrypt", "DescribeKey", "CreateSecret"][(n % 4) as usize];
    let source = if n % 4 == 3 {
        "secretsmanager.amazonaws.com"
    } else {
        "kms.amazonaws.com"
    };
    let time = OffsetDateTime::from_unix_timestamp(BASE + n as i64).expect("time");
    let mut event = AuditEvent::api_call(
        identity,
        time,
        source,
        name,
        "us-east-1",
        "192.0.2.1",
        format!("req-{account}-{n}"),
        format!("evt-{account}-{n:06}"),
        account,
    );
    event.read_only = n % 4 == 2;
    event.resources = vec![Resource {
        account_id: Some(account.into()),
        resource_type: Some(if n % 4 == 3 {
            "AWS::SecretsManager::Secret".into()
        } else {
            "AWS::KMS::Key".into()
        }),
        arn: key_arn(account, n % 5),
    }];
    event
}

fn query(attribute: Option<LookupAttribute>) -> LookupQuery {
    LookupQuery {
        account_id: ACCOUNT.into(),
        attribute,
        start: None,
        end: None,
        max_results: 1000,
        next_token: None,
    }
}

/// The record numbers of a page (from their event ids).
fn numbers(page: &LookupPage) -> Vec<u64> {
    page.events
        .iter()
        .map(|e| {
            e.event_id
                .rsplit('-')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("numbered event id")
        })
        .collect()
}

/// Every record number of `ACCOUNT` in 1..=count matching `keep`, newest first.
fn expected(count: u64, keep: impl Fn(u64) -> bool) -> Vec<u64> {
    (1..=count).rev().filter(|&n| keep(n)).collect()
}

async fn trail(dir: &Path, key: &Path, count: u64) -> AuditLog {
    let log = open(dir, key);
    for n in 1..=count {
        log.append(&record(n, ACCOUNT)).await.expect("append");
        log.append(&record(n, OTHER)).await.expect("append");
        if n % 10 == 0 {
            // Several files, so that lookups read across them.
            log.seal().await.expect("seal");
        }
    }
    log
}

fn lookup(log: &AuditLog, query: &LookupQuery) -> LookupPage {
    log.lookup(query).expect("lookup")
}

#[tokio::test]
async fn every_lookup_attribute_finds_exactly_the_records_that_carry_it() {
    let (_temp, dir, key) = temp();
    let log = trail(&dir, &key, 40).await;
    let cases: Vec<(LookupAttribute, Vec<u64>)> = vec![
        (
            LookupAttribute::EventId(format!("evt-{ACCOUNT}-000007")),
            vec![7],
        ),
        (
            LookupAttribute::EventName("Encrypt".into()),
            expected(40, |n| n % 4 == 1),
        ),
        (
            LookupAttribute::ReadOnly(true),
            expected(40, |n| n % 4 == 2),
        ),
        (
            LookupAttribute::ReadOnly(false),
            expected(40, |n| n % 4 != 2),
        ),
        (
            LookupAttribute::Username("Alice".into()),
            expected(40, |n| n % 3 != 2),
        ),
        // A role session is found by its issuer's name, as CloudTrail does.
        (
            LookupAttribute::Username("Deployer".into()),
            expected(40, |n| n % 3 == 2),
        ),
        (
            LookupAttribute::ResourceType("AWS::SecretsManager::Secret".into()),
            expected(40, |n| n % 4 == 3),
        ),
        (
            LookupAttribute::ResourceName(key_arn(ACCOUNT, 3)),
            expected(40, |n| n % 5 == 3),
        ),
        // A key is found by its id as well as by its ARN.
        (
            LookupAttribute::ResourceName("key-0003".into()),
            expected(40, |n| n % 5 == 3),
        ),
        (
            LookupAttribute::EventSource("secretsmanager.amazonaws.com".into()),
            expected(40, |n| n % 4 == 3),
        ),
        (
            LookupAttribute::AccessKeyId(format!("AKIA{:016}", 13)),
            vec![13],
        ),
        (LookupAttribute::EventName("NoSuchThing".into()), vec![]),
    ];
    for (attribute, want) in cases {
        let page = lookup(&log, &query(Some(attribute.clone())));
        assert_eq!(numbers(&page), want, "{attribute:?}");
        assert!(page.next_token.is_none(), "{attribute:?}");
    }

    // The fields LookupEvents returns, and the record itself.
    let page = lookup(
        &log,
        &query(Some(LookupAttribute::EventId(format!(
            "evt-{ACCOUNT}-000014"
        )))),
    );
    let found = &page.events[0];
    assert_eq!(found.event_name, "DescribeKey");
    assert_eq!(found.read_only, Some(true));
    assert_eq!(found.access_key_id.as_deref(), Some("ASIA0000000000000014"));
    assert_eq!(found.event_time, UnixMillis((BASE + 14) * 1000));
    assert_eq!(found.event_source, "kms.amazonaws.com");
    assert_eq!(found.username.as_deref(), Some("Deployer"));
    assert_eq!(
        found.resources,
        vec![("AWS::KMS::Key".to_owned(), key_arn(ACCOUNT, 4))]
    );
    let json: AuditEvent = serde_json::from_str(&found.cloud_trail_event).expect("record");
    assert_eq!(json, record(14, ACCOUNT));
    log.close().await.expect("close");
}

#[tokio::test]
async fn lookups_are_newest_first_and_page_through_every_match_once() {
    let (_temp, dir, key) = temp();
    let log = trail(&dir, &key, 45).await;
    for attribute in [
        None,
        Some(LookupAttribute::ResourceType("AWS::KMS::Key".into())),
    ] {
        let mut q = query(attribute.clone());
        q.max_results = 7;
        let mut all = Vec::new();
        let mut pages = 0;
        loop {
            let page = lookup(&log, &q);
            assert!(page.events.len() <= 7);
            pages += 1;
            all.extend(numbers(&page));
            match page.next_token {
                Some(token) => q.next_token = Some(token),
                None => break,
            }
        }
        let want = match attribute {
            None => expected(45, |_| true),
            Some(_) => expected(45, |n| n % 4 != 3),
        };
        assert_eq!(all, want);
        assert_eq!(pages, want.len().div_ceil(7));
    }
    // Times are newest first even when records were appended out of time order.
    let late = record(1000, ACCOUNT);
    let mut early = record(1001, ACCOUNT);
    early.event_time = OffsetDateTime::from_unix_timestamp(BASE - 100).expect("time");
    log.append(&late).await.expect("append");
    log.append(&early).await.expect("append");
    let page = lookup(&log, &query(None));
    assert_eq!(numbers(&page).first(), Some(&1000));
    assert_eq!(numbers(&page).last(), Some(&1001));
    log.close().await.expect("close");
}

#[tokio::test]
async fn a_time_range_returns_only_the_records_within_it_inclusive() {
    let (_temp, dir, key) = temp();
    let log = trail(&dir, &key, 30).await;
    let mut q = query(None);
    q.start = Some(UnixMillis((BASE + 10) * 1000));
    q.end = Some(UnixMillis((BASE + 20) * 1000));
    assert_eq!(numbers(&lookup(&log, &q)), expected(20, |n| n >= 10));
    q.attribute = Some(LookupAttribute::ResourceName("key-0000".into()));
    assert_eq!(numbers(&lookup(&log, &q)), vec![20, 15, 10]);
    q.attribute = Some(LookupAttribute::EventName("Decrypt".into()));
    q.start = None;
    assert_eq!(numbers(&lookup(&log, &q)), vec![20, 16, 12, 8, 4]);
    q.end = Some(UnixMillis(BASE * 1000));
    assert!(lookup(&log, &q).events.is_empty());
    log.close().await.expect("close");
}

#[tokio::test]
async fn an_account_sees_only_its_own_records() {
    let (_temp, dir, key) = temp();
    let log = trail(&dir, &key, 12).await;
    let mut q = query(Some(LookupAttribute::EventId(format!(
        "evt-{OTHER}-000003"
    ))));
    assert!(lookup(&log, &q).events.is_empty());
    q.account_id = OTHER.into();
    assert_eq!(numbers(&lookup(&log, &q)), vec![3]);
    q.attribute = Some(LookupAttribute::ResourceName(key_arn(ACCOUNT, 1)));
    assert!(lookup(&log, &q).events.is_empty());
    q.attribute = None;
    let page = lookup(&log, &q);
    assert_eq!(page.events.len(), 12);
    assert!(page.events.iter().all(|e| {
        e.cloud_trail_event
            .contains(&format!("\"recipientAccountId\":\"{OTHER}\""))
    }));
    let mut q = query(None);
    q.account_id = "999999999999".into();
    assert!(lookup(&log, &q).events.is_empty());
    log.close().await.expect("close");
}

#[tokio::test]
async fn a_next_token_is_refused_for_another_query_or_when_garbled() {
    let (_temp, dir, key) = temp();
    let log = trail(&dir, &key, 10).await;
    let mut q = query(None);
    q.max_results = 3;
    let token = lookup(&log, &q).next_token.expect("more pages");
    for bad in [
        "not-a-token".to_owned(),
        format!("{token}00"),
        String::new(),
    ] {
        q.next_token = Some(bad);
        assert!(matches!(log.lookup(&q), Err(Error::InvalidNextToken)));
    }
    q.next_token = Some(token.clone());
    q.account_id = OTHER.into();
    assert!(matches!(log.lookup(&q), Err(Error::InvalidNextToken)));
    q.account_id = ACCOUNT.into();
    q.attribute = Some(LookupAttribute::ReadOnly(true));
    assert!(matches!(log.lookup(&q), Err(Error::InvalidNextToken)));
    log.close().await.expect("close");
}

fn remove_index(dir: &Path) {
    for name in ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.join(name));
    }
}

#[tokio::test]
async fn a_deleted_index_is_rebuilt_from_the_log_when_opened() {
    let (_temp, dir, key) = temp();
    let log = trail(&dir, &key, 25).await;
    let before = lookup(&log, &query(None));
    log.close().await.expect("close");
    remove_index(&dir);
    assert!(!dir.join("index.sqlite").exists());

    let log = open(&dir, &key);
    assert_eq!(lookup(&log, &query(None)), before);
    let q = query(Some(LookupAttribute::ResourceName("key-0002".into())));
    assert_eq!(numbers(&lookup(&log, &q)), expected(25, |n| n % 5 == 2));
    // And it goes on indexing new records.
    log.append(&record(26, ACCOUNT)).await.expect("append");
    assert_eq!(numbers(&lookup(&log, &query(None)))[0], 26);
    log.close().await.expect("close");
    // The index is no part of the trail: the verifier ignores it.
    let report = keystead_audit::verify(
        &dir,
        &keystead_crypto::SigningKey::load(&key)
            .expect("key")
            .public_key_der(),
        None,
        None,
    )
    .expect("verify");
    assert!(report.is_intact(), "{report:#?}");
}

#[tokio::test]
async fn an_index_left_behind_by_a_crash_after_the_log_fsync_is_caught_up_when_opened() {
    let (_temp, dir, key) = temp();
    let log = trail(&dir, &key, 25).await;
    let before = lookup(&log, &query(None));
    // Dropped without close, as a crash would.
    drop(log);
    std::thread::sleep(std::time::Duration::from_millis(200));
    // The last index transactions never happened: the blocks of records after 30 (of 50) are
    // unindexed.
    {
        let conn = rusqlite::Connection::open(dir.join("index.sqlite")).expect("index");
        conn.execute_batch(
            "DELETE FROM blocks WHERE last > 30; \
             DELETE FROM postings WHERE block NOT IN (SELECT block FROM blocks); \
             DELETE FROM places WHERE block NOT IN (SELECT block FROM blocks); \
             DELETE FROM event_ids WHERE seq > (SELECT coalesce(max(last), 0) FROM blocks); \
             DELETE FROM files WHERE file_seq > (SELECT coalesce(max(file_seq), 0) FROM blocks);",
        )
        .expect("delete");
        let left: i64 = conn
            .query_row("SELECT coalesce(max(last), 0) FROM blocks", [], |r| {
                r.get(0)
            })
            .expect("blocks");
        assert!(left < 50, "{left}");
    }
    let log = open(&dir, &key);
    assert_eq!(lookup(&log, &query(None)), before);
    let q = query(Some(LookupAttribute::EventName("Decrypt".into())));
    assert_eq!(numbers(&lookup(&log, &q)), expected(25, |n| n % 4 == 0));
    log.close().await.expect("close");
}

#[tokio::test]
async fn an_index_of_an_older_schema_is_rebuilt_from_the_log_when_opened() {
    let (_temp, dir, key) = temp();
    let log = trail(&dir, &key, 5).await;
    let before = lookup(&log, &query(None));
    log.close().await.expect("close");
    remove_index(&dir);
    {
        // What schema 1 left: its version, and tables this schema does not have.
        let conn = rusqlite::Connection::open(dir.join("index.sqlite")).expect("index");
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO meta VALUES ('schema_version', 1);
             CREATE TABLE events (seq INTEGER PRIMARY KEY, account TEXT, time INTEGER);
             INSERT INTO events VALUES (1, 'x', 0);
             CREATE TABLE resources (account TEXT, kind INTEGER, value TEXT, time INTEGER,
                                     seq INTEGER, PRIMARY KEY (account, kind, value, time, seq))
                 WITHOUT ROWID;",
        )
        .expect("schema 1");
    }
    let log = open(&dir, &key);
    assert_eq!(lookup(&log, &query(None)), before);
    assert_eq!(numbers(&lookup(&log, &query(None))), expected(5, |_| true));
    log.close().await.expect("close");
}

#[tokio::test]
async fn a_damaged_index_file_is_replaced_and_rebuilt() {
    let (_temp, dir, key) = temp();
    let log = trail(&dir, &key, 5).await;
    log.close().await.expect("close");
    remove_index(&dir);
    std::fs::write(dir.join("index.sqlite"), b"this is not a database").expect("write");
    let log = open(&dir, &key);
    assert_eq!(numbers(&lookup(&log, &query(None))), expected(5, |_| true));
    log.close().await.expect("close");
}

#[tokio::test]
async fn the_record_of_a_torn_tail_recovery_can_be_looked_up() {
    let (_temp, dir, key) = temp();
    let log = trail(&dir, &key, 3).await;
    drop(log);
    let newest = log_files(&dir).pop().expect("a log file");
    let mut bytes = std::fs::read(&newest).expect("read");
    bytes.extend_from_slice(b"{\"v\":1,\"seq\":7,\"prev\":\"00");
    std::fs::write(&newest, bytes).expect("write");
    let log = open(&dir, &key);
    assert!(log.recovery().is_some());
    let mut q = query(Some(LookupAttribute::EventName(
        keystead_audit::RECOVERY_EVENT_NAME.into(),
    )));
    q.account_id = "000000000000".into();
    let page = lookup(&log, &q);
    assert_eq!(page.events.len(), 1);
    assert!(
        page.events[0]
            .cloud_trail_event
            .contains("truncatedAtOffset")
    );
    let ids: HashSet<_> = lookup(&log, &query(None))
        .events
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(ids.len(), 3);
    log.close().await.expect("close");
}

#[tokio::test]
async fn a_lookup_right_after_reopening_does_not_wait_for_the_indexer() {
    let (_temp, dir, key) = temp();
    let log = trail(&dir, &key, 5).await;
    log.close().await.expect("close");
    let log = open(&dir, &key);
    let start = std::time::Instant::now();
    assert_eq!(lookup(&log, &query(None)).events.len(), 5);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    log.close().await.expect("close");
}

#[tokio::test]
async fn records_the_writer_did_not_hand_to_a_lagging_indexer_are_read_back_from_the_log() {
    let (_temp, dir, key) = temp();
    let signing_key = keystead_crypto::SigningKey::create(&key).expect("key");
    let mut config = config(&dir);
    // Every batch counts as too far behind: the indexer gets only "skipped up to N".
    config.lookup_index_backlog = 0;
    let log = AuditLog::open(config, signing_key).expect("open");
    for n in 1..=30 {
        log.append(&record(n, ACCOUNT)).await.expect("append");
        if n % 10 == 0 {
            log.seal().await.expect("seal");
        }
        // Lookups in between read their own writes.
        if n % 7 == 0 {
            assert_eq!(numbers(&lookup(&log, &query(None))), expected(n, |_| true));
        }
    }
    let q = query(Some(LookupAttribute::ResourceName("key-0001".into())));
    assert_eq!(numbers(&lookup(&log, &q)), expected(30, |n| n % 5 == 1));
    log.close().await.expect("close");
    // And what the index holds is exactly what a rebuild gives.
    let log = open(&dir, &key);
    let before = lookup(&log, &query(None));
    log.close().await.expect("close");
    remove_index(&dir);
    let log = open(&dir, &key);
    assert_eq!(lookup(&log, &query(None)), before);
    log.close().await.expect("close");
}

#[tokio::test]
async fn pages_follow_exact_time_order_when_the_index_blocks_overlap_in_time() {
    let (_temp, dir, key) = temp();
    let log = open(&dir, &key);
    // Times out of order and often equal; a lookup every 13 records makes the indexer commit,
    // so the records are spread over many index blocks whose time ranges overlap; the last 200
    // make blocks of several groups of places.
    let time_of = |n: u64| BASE + ((n * 37) % 50) as i64;
    for n in 1..=400 {
        let mut event = record(n, ACCOUNT);
        event.event_time = OffsetDateTime::from_unix_timestamp(time_of(n)).expect("time");
        log.append(&event).await.expect("append");
        if n <= 200 && n % 13 == 0 {
            lookup(&log, &query(None));
        }
    }
    let newest_first = |keep: &dyn Fn(u64) -> bool| {
        let mut want: Vec<u64> = (1..=400).filter(|&n| keep(n)).collect();
        want.sort_by_key(|&n| std::cmp::Reverse((time_of(n), n)));
        want
    };
    let cases: Vec<(LookupQuery, Vec<u64>)> = vec![
        (query(None), newest_first(&|_| true)),
        (
            query(Some(LookupAttribute::ResourceName("key-0002".into()))),
            newest_first(&|n| n % 5 == 2),
        ),
        (
            LookupQuery {
                start: Some(UnixMillis((BASE + 10) * 1000)),
                end: Some(UnixMillis((BASE + 30) * 1000)),
                ..query(Some(LookupAttribute::EventName("Decrypt".into())))
            },
            newest_first(&|n| n % 4 == 0 && (10..=30).contains(&(time_of(n) - BASE))),
        ),
    ];
    for (mut q, want) in cases {
        for page_size in [1, 7, 1000] {
            q.max_results = page_size;
            q.next_token = None;
            let mut all = Vec::new();
            loop {
                let page = lookup(&log, &q);
                all.extend(numbers(&page));
                match page.next_token {
                    Some(token) => q.next_token = Some(token),
                    None => break,
                }
            }
            assert_eq!(all, want, "{:?}, pages of {page_size}", q.attribute);
        }
    }
    log.close().await.expect("close");
}
