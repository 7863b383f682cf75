//! The operations, grouped by the resource they act on. Each public method is one AWS operation
//! and carries its name.

pub(crate) mod aliases;
pub(crate) mod aws_managed;
pub(crate) mod crypto;
pub(crate) mod grants;
pub(crate) mod keys;
pub(crate) mod rotation;
pub(crate) mod tags;
