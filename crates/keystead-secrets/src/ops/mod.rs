//! The operations, grouped by what they act on. Each public method is one AWS operation and
//! carries its name.

pub(crate) mod list;
pub(crate) mod password;
pub(crate) mod replication;
pub(crate) mod rotation;
pub(crate) mod secrets;
pub(crate) mod values;
