//! Secrets Manager rotation for keystead: the four-step contract a rotator implements, the driver
//! that runs it resumably, the built-in rotators, passwords and rotation schedules.
//!
//! - [`Step`] and [`Rotator`]: AWS's rotation-function contract (`createSecret`, `setSecret`,
//!   `testSecret`, `finishSecret`) with its `AWSPENDING` handling. Every step is idempotent.
//! - [`SecretAccess`]: what a rotator may do to the secret being rotated (read versions by stage
//!   or id, put the pending value, move `AWSCURRENT`). The Secrets Manager service implements it;
//!   this crate does not depend on that service.
//! - [`run_rotation`] and [`RotationJob`]: run the remaining steps in order, reporting each one
//!   done so the caller can persist progress and resume after a crash.
//! - [`PostgresRotator`]: built-in PostgreSQL rotation, single-user and alternating-users.
//! - [`HttpHookRotator`]: POSTs each step, signed with Ed25519, to a URL (the stand-in for a
//!   rotation Lambda); hook authors check requests with [`verify_hook_request`].
//! - [`generate_password`]: `GetRandomPassword`'s generator.
//! - [`next_rotation`]: when the next rotation window opens, from `RotationRules`.
//!
//! This crate never stores anything and never talks to the KMS: secret values come and go only
//! through [`SecretAccess`], and they are [`SecretValue`]s with no `Debug`.

mod access;
mod driver;
mod error;
mod hook;
mod password;
mod postgres;
mod schedule;
mod step;

pub use access::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, PendingState, SecretAccess, SecretValue, pending_state,
};
pub use driver::{RotationJob, run_rotation};
pub use error::Error;
pub use hook::{
    HOOK_SIGNATURE_CONTEXT, HttpHookRotator, SIGNATURE_HEADER, TIMESTAMP_HEADER,
    hook_signing_input, verify_hook_request,
};
pub use password::{PASSWORD_LENGTH_RANGE, PasswordOptions, generate_password};
pub use postgres::{
    DatabaseCredentials, PostgresRotator, PostgresStrategy, alternate_username, is_postgres_engine,
};
pub use schedule::{Cron, RotationRules, RotationWindow, ScheduleExpression, next_rotation};
pub use step::{Rotator, Step};
