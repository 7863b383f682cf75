//! keystead's server: configuration, the data directory, the HTTP listener (plain or TLS), SigV4
//! authentication, routing of AWS JSON 1.1 requests to the services, and the background
//! workers.
//!
//! The order of work on a request is fixed here and nowhere else: size limit, target, SigV4,
//! decode and validate, service call, encode. Services never see an unauthenticated request:
//! they take a [`keystead_types::Caller`], which only [`credentials`] produces.

use std::sync::Arc;

use keystead_identity::IdentityService;
use keystead_keys::KeyService;
use keystead_types::{AccountId, SystemClock};
use tokio::sync::Notify;

pub mod config;
mod credentials;
pub mod data_dir;
mod errors;
mod http;
mod kms;
mod query;
mod serve;
mod workers;

pub use serve::{ServeError, serve};

/// Everything a request handler needs, shared by all connections.
pub(crate) struct App {
    keys: KeyService,
    /// IAM users, their access keys and inline policies.
    identity: Arc<IdentityService>,
    credentials: credentials::Credentials,
    clock: Arc<SystemClock>,
    max_body_bytes: usize,
    danger_test_clock: bool,
    /// Wakes the workers early, e.g. after the test clock moved.
    workers_wake: Notify,
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
}
