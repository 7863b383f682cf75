//! The HTTP hook rotator against a tiny hyper server in the test that verifies keystead's
//! signature, records the steps and, like a rotation Lambda, does the store work itself.

mod common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::InMemoryAccess;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use keystead_crypto::SigningKey;
use keystead_rotation::{
    AWSCURRENT, AWSPREVIOUS, Error, HttpHookRotator, RotationJob, SecretAccess, SecretValue, Step,
    run_rotation, verify_hook_request,
};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// How the test hook behaves.
#[derive(Clone)]
struct Hook {
    public_key_der: Vec<u8>,
    access: Arc<InMemoryAccess>,
    fail_at: Option<Step>,
    moves_current: bool,
    seen: Arc<Mutex<Vec<Value>>>,
}

fn answer(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
}

impl Hook {
    fn new(public_key_der: Vec<u8>, access: Arc<InMemoryAccess>) -> Self {
        Self {
            public_key_der,
            access,
            fail_at: None,
            moves_current: true,
            seen: Arc::default(),
        }
    }

    async fn handle(self, request: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        if let Err(Error::HookRequestRejected { reason }) = verify_hook_request(
            &self.public_key_der,
            &parts.headers,
            &body,
            OffsetDateTime::now_utc(),
            Duration::from_secs(300),
        ) {
            return answer(StatusCode::FORBIDDEN, json!({"errorMessage": reason}));
        }
        let event: Value = serde_json::from_slice(&body).expect("json event");
        self.seen.lock().expect("lock").push(event.clone());
        let step: Step = event["Step"]
            .as_str()
            .expect("step")
            .parse()
            .expect("known step");
        if self.fail_at == Some(step) {
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"errorType": "ValueError", "errorMessage": "database unreachable"}),
            );
        }
        let secret = event["SecretId"].as_str().expect("id");
        let token = event["ClientRequestToken"].as_str().expect("token");
        let done = match step {
            Step::CreateSecret => {
                self.access
                    .put_pending(
                        secret,
                        token,
                        &SecretValue::new(json!({"v": token}).to_string()),
                    )
                    .await
            }
            Step::FinishSecret if self.moves_current => self.access.finish(secret, token).await,
            _ => Ok(()),
        };
        match done {
            Ok(()) => answer(StatusCode::OK, json!({})),
            Err(e) => answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"errorMessage": e.to_string()}),
            ),
        }
    }

    /// Serves on a free port of 127.0.0.1 until the test ends; returns the hook URL.
    async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let hook = self.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let hook = hook.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let hook = hook.clone();
                        async move { Ok::<_, Infallible>(hook.handle(request).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        format!("http://{address}/rotate?fn=test")
    }
}

fn setup() -> (Arc<SigningKey>, Arc<InMemoryAccess>) {
    let key = Arc::new(SigningKey::generate().expect("key"));
    let access = Arc::new(InMemoryAccess::new());
    access.create("app/secret", r#"{"v":1}"#);
    (key, access)
}

#[tokio::test]
async fn hook_rotation_posts_each_signed_step_in_order_and_completes() {
    let (key, access) = setup();
    let hook = Hook::new(key.public_key_der(), access.clone());
    let rotator = HttpHookRotator::new(&hook.serve().await, key).expect("rotator");

    let mut job = RotationJob::new("app/secret", "tok-1");
    let mut progress = Vec::new();
    job.run(&rotator, &*access, |p: RotationJob| {
        progress.push(p.next_step);
        async { Ok(()) }
    })
    .await
    .expect("rotation");

    let seen = hook.seen.lock().expect("lock").clone();
    let expected: Vec<Value> = Step::ALL
        .iter()
        .map(|s| json!({"Step": s.as_str(), "SecretId": "app/secret", "ClientRequestToken": "tok-1"}))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(
        progress,
        vec![
            Some(Step::SetSecret),
            Some(Step::TestSecret),
            Some(Step::FinishSecret),
            None
        ]
    );
    assert_eq!(
        access.stages("app/secret")["tok-1"],
        vec![AWSCURRENT.to_owned()]
    );
    assert_eq!(
        access.value("app/secret", AWSCURRENT),
        Some(json!({"v": "tok-1"}))
    );
    assert_eq!(
        access.value("app/secret", AWSPREVIOUS),
        Some(json!({"v": 1}))
    );
}

#[tokio::test]
async fn a_failing_hook_fails_the_step_with_its_message_and_the_rotation_resumes_there() {
    let (key, access) = setup();
    let mut hook = Hook::new(key.public_key_der(), access.clone());
    hook.fail_at = Some(Step::TestSecret);
    let url = hook.serve().await;
    let rotator = HttpHookRotator::new(&url, key.clone()).expect("rotator");

    let mut job = RotationJob::new("app/secret", "tok-1");
    let result = job.run(&rotator, &*access, |_| async { Ok(()) }).await;
    match result {
        Err(Error::HookFailed {
            step,
            status,
            message,
            ..
        }) => {
            assert_eq!((step, status), (Step::TestSecret, 500));
            assert_eq!(message, "database unreachable");
        }
        other => panic!("expected HookFailed, got {other:?}"),
    }
    assert_eq!(job.next_step, Some(Step::TestSecret));
    assert_eq!(
        access.value("app/secret", AWSCURRENT),
        Some(json!({"v": 1}))
    );

    // The hook is fixed: resuming runs testSecret and finishSecret only.
    let fixed = Hook::new(key.public_key_der(), access.clone());
    let rotator = HttpHookRotator::new(&fixed.serve().await, key).expect("rotator");
    job.run(&rotator, &*access, |_| async { Ok(()) })
        .await
        .expect("resumed");
    let steps: Vec<Value> = fixed
        .seen
        .lock()
        .expect("lock")
        .iter()
        .map(|e| e["Step"].clone())
        .collect();
    assert_eq!(steps, vec![json!("testSecret"), json!("finishSecret")]);
    assert_eq!(
        access.value("app/secret", AWSCURRENT),
        Some(json!({"v": "tok-1"}))
    );
}

#[tokio::test]
async fn a_hook_refuses_requests_signed_by_another_key() {
    let (key, access) = setup();
    let other = SigningKey::generate().expect("key");
    let hook = Hook::new(other.public_key_der(), access.clone());
    let rotator = HttpHookRotator::new(&hook.serve().await, key).expect("rotator");
    let result = run_rotation(
        &rotator,
        &*access,
        "app/secret",
        "tok",
        Step::CreateSecret,
        |_| async { Ok(()) },
    )
    .await;
    match result {
        Err(Error::HookFailed {
            status: 403,
            message,
            step: Step::CreateSecret,
            ..
        }) => {
            assert_eq!(message, "the signature does not verify");
        }
        other => panic!("expected a 403, got {other:?}"),
    }
    assert!(hook.seen.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_hook_refuses_requests_with_an_old_timestamp() {
    let (key, access) = setup();
    let hook = Hook::new(key.public_key_der(), access.clone());
    let rotator = HttpHookRotator::new(&hook.serve().await, key)
        .expect("rotator")
        .with_clock(|| OffsetDateTime::now_utc() - time::Duration::hours(1));
    let result = run_rotation(
        &rotator,
        &*access,
        "app/secret",
        "tok",
        Step::CreateSecret,
        |_| async { Ok(()) },
    )
    .await;
    match result {
        Err(Error::HookFailed {
            status: 403,
            message,
            ..
        }) => {
            assert_eq!(message, "the timestamp is too far from the current time");
        }
        other => panic!("expected a 403, got {other:?}"),
    }
}

#[tokio::test]
async fn a_hook_that_answers_ok_without_moving_awscurrent_does_not_finish_the_rotation() {
    let (key, access) = setup();
    let mut hook = Hook::new(key.public_key_der(), access.clone());
    hook.moves_current = false;
    let rotator = HttpHookRotator::new(&hook.serve().await, key).expect("rotator");
    let result = run_rotation(
        &rotator,
        &*access,
        "app/secret",
        "tok",
        Step::CreateSecret,
        |_| async { Ok(()) },
    )
    .await;
    assert!(
        matches!(result, Err(Error::RotationNotFinished { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_unreachable_hook_is_a_step_failure() {
    let (key, access) = setup();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let rotator = HttpHookRotator::new(&format!("http://127.0.0.1:{port}/"), key)
        .expect("rotator")
        .with_timeout(Duration::from_secs(5));
    let result = run_rotation(
        &rotator,
        &*access,
        "app/secret",
        "tok",
        Step::CreateSecret,
        |_| async { Ok(()) },
    )
    .await;
    assert!(
        matches!(
            result,
            Err(Error::HookUnreachable {
                step: Step::CreateSecret,
                ..
            })
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_rotation_can_run_on_a_spawned_task_as_the_worker_does() {
    let (key, access) = setup();
    let hook = Hook::new(key.public_key_der(), access.clone());
    let rotator = Arc::new(HttpHookRotator::new(&hook.serve().await, key).expect("rotator"));
    let persisted = Arc::new(Mutex::new(Vec::new()));
    let task = {
        let (access, persisted) = (access.clone(), persisted.clone());
        tokio::spawn(async move {
            let mut job = RotationJob::new("app/secret", "tok-9");
            job.run(&*rotator, &*access, |p: RotationJob| {
                persisted.lock().expect("lock").push(p);
                async { Ok(()) }
            })
            .await
            .map(|()| job)
        })
    };
    let job = task.await.expect("task").expect("rotation");
    assert!(job.is_finished());
    assert_eq!(persisted.lock().expect("lock").len(), 4);
}
