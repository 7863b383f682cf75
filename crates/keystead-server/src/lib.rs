//! keystead's server: configuration, the data directory, the HTTP listener (plain or TLS), SigV4
//! authentication, routing of AWS JSON 1.1 requests to the services, and the background
//! workers.
//!
//! The order of work on a request is fixed here and nowhere else: size limit, target, SigV4,
//! decode and validate, service call, encode, audit record (durable before the response is
//! sent), metrics. Services never see an unauthenticated request: they take a
//! [`keystead_types::Caller`], which only [`credentials`] produces.
//!
//! Besides the AWS APIs the listener serves `GET /healthz`, `GET /readyz` and `GET /metrics`
//! (Prometheus), unauthenticated: they carry no secret, only counts, operation names and up to
//! [`MAX_KEY_LABELS`] key ids.

use std::sync::Arc;

use keystead_identity::IdentityService;
use keystead_keys::KeyService;
use keystead_types::{AccountId, SystemClock};
use tokio::sync::Notify;

mod audit;
mod cloudtrail;
pub mod config;
mod credentials;
pub mod data_dir;
mod errors;
mod http;
mod kms;
mod metrics;
mod query;
mod response_elements;
mod rotation;
mod secrets;
mod serve;
mod workers;

pub use credentials::{NewServiceCredentials, ServiceCredentialsError, create_service_credentials};
pub use metrics::{KEY_MONTH_USD, MAX_KEY_LABELS, USD_PER_10K_REQUESTS};
pub use serve::{ServeError, serve};

/// Everything a request handler needs, shared by all connections.
pub(crate) struct App {
    keys: KeyService,
    /// Secrets Manager: secrets, versions, replicas.
    secrets: keystead_secrets::SecretsService,
    /// IAM users, their access keys and inline policies.
    identity: Arc<IdentityService>,
    credentials: credentials::Credentials,
    clock: Arc<SystemClock>,
    max_body_bytes: usize,
    danger_test_clock: bool,
    /// Wakes the workers early, e.g. after the test clock moved.
    workers_wake: Notify,
    /// The audit trail (absent with `--audit off`) and what it knows to name resources.
    audit: audit::Audit,
    /// The Prometheus metrics served at `/metrics`.
    metrics: metrics::Metrics,
    /// Set when shutdown begins: `/readyz` then answers 503.
    shutting_down: std::sync::atomic::AtomicBool,
    /// Secrets Manager rotation: hooks, the hook signing key, rotations running.
    rotation: rotation::Rotations,
}

/// The KMS service's view of IAM: a user's or role's inline policies, straight from memory.
struct UserPolicies(Arc<IdentityService>);

impl keystead_keys::IdentityPolicies for UserPolicies {
    fn user_policies(&self, account: &AccountId, user_name: &str) -> Arc<[keystead_authz::Policy]> {
        self.0.user_policies(account, user_name)
    }

    fn role_policies(&self, account: &AccountId, role_name: &str) -> Arc<[keystead_authz::Policy]> {
        self.0.role_policies(account, role_name)
    }

    fn principal_exists(&self, arn: &str) -> bool {
        self.0.principal_exists(arn)
    }

    fn generation(&self) -> u64 {
        self.0.generation()
    }
}
