//! The key-state machine: which states each kind of operation accepts, and the transitions the
//! lifecycle operations make. Reads (DescribeKey, GetKeyPolicy, List*) work in every state and
//! need no check. Pure: no I/O, no clock.
//!
//! `docs/design/key-states.md` draws the same table.

use keystead_types::KeyState;

use crate::Error;

/// The kinds of operation whose acceptance depends on the key's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// Encrypt, Decrypt, ReEncrypt, GenerateDataKey*: Enabled only.
    Cryptographic,
    /// UpdateKeyDescription, PutKeyPolicy, TagResource, UntagResource, CreateAlias target:
    /// anything but PendingDeletion.
    Manage,
    /// EnableKeyRotation, DisableKeyRotation, RotateKeyOnDemand: Enabled only, disabled keys
    /// give `DisabledException`.
    Rotation,
}

/// Whether a key in `state` accepts an operation of kind `use_`.
pub(crate) fn check(state: KeyState, use_: Use, arn: &str) -> Result<(), Error> {
    match (use_, state) {
        (Use::Cryptographic | Use::Rotation, KeyState::Enabled) => Ok(()),
        (Use::Cryptographic | Use::Rotation, KeyState::Disabled) => Err(Error::KeyDisabled {
            arn: arn.to_owned(),
        }),
        (Use::Manage, KeyState::Enabled | KeyState::Disabled) => Ok(()),
        (Use::Cryptographic | Use::Rotation | Use::Manage, KeyState::PendingDeletion) => {
            Err(pending_deletion(arn))
        }
    }
}

/// EnableKey.
pub(crate) fn enable(state: KeyState, arn: &str) -> Result<KeyState, Error> {
    match state {
        KeyState::Enabled | KeyState::Disabled => Ok(KeyState::Enabled),
        KeyState::PendingDeletion => Err(pending_deletion(arn)),
    }
}

/// DisableKey.
pub(crate) fn disable(state: KeyState, arn: &str) -> Result<KeyState, Error> {
    match state {
        KeyState::Enabled | KeyState::Disabled => Ok(KeyState::Disabled),
        KeyState::PendingDeletion => Err(pending_deletion(arn)),
    }
}

/// ScheduleKeyDeletion.
pub(crate) fn schedule_deletion(state: KeyState, arn: &str) -> Result<KeyState, Error> {
    match state {
        KeyState::Enabled | KeyState::Disabled => Ok(KeyState::PendingDeletion),
        KeyState::PendingDeletion => Err(pending_deletion(arn)),
    }
}

/// CancelKeyDeletion: as in AWS, a key whose deletion is cancelled comes back disabled.
pub(crate) fn cancel_deletion(state: KeyState, arn: &str) -> Result<KeyState, Error> {
    match state {
        KeyState::PendingDeletion => Ok(KeyState::Disabled),
        KeyState::Enabled | KeyState::Disabled => Err(Error::InvalidKeyState {
            arn: arn.to_owned(),
            state_phrase: "not pending deletion",
        }),
    }
}

fn pending_deletion(arn: &str) -> Error {
    Error::InvalidKeyState {
        arn: arn.to_owned(),
        state_phrase: "pending deletion",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/k";

    /// What the table below expects: the new state, or the AWS error code.
    #[derive(Debug, PartialEq)]
    enum Outcome {
        To(KeyState),
        Ok,
        Disabled,
        InvalidState,
    }

    fn outcome(r: Result<KeyState, Error>) -> Outcome {
        match r {
            Ok(s) => Outcome::To(s),
            Err(Error::KeyDisabled { .. }) => Outcome::Disabled,
            Err(Error::InvalidKeyState { .. }) => Outcome::InvalidState,
            Err(e) => panic!("unexpected error {e}"),
        }
    }

    fn use_outcome(r: Result<(), Error>) -> Outcome {
        outcome(r.map(|()| KeyState::Enabled)).map_ok()
    }

    impl Outcome {
        fn map_ok(self) -> Self {
            match self {
                Outcome::To(_) => Outcome::Ok,
                other => other,
            }
        }
    }

    #[test]
    fn every_state_and_operation_pair_behaves_as_aws_documents() {
        use KeyState::*;
        use Outcome as O;
        let states = [Enabled, Disabled, PendingDeletion];
        // (operation, expected outcome for Enabled, Disabled, PendingDeletion)
        type Transition = fn(KeyState, &str) -> Result<KeyState, Error>;
        let transitions: [(&str, Transition, [Outcome; 3]); 4] = [
            (
                "EnableKey",
                enable,
                [O::To(Enabled), O::To(Enabled), O::InvalidState],
            ),
            (
                "DisableKey",
                disable,
                [O::To(Disabled), O::To(Disabled), O::InvalidState],
            ),
            (
                "ScheduleKeyDeletion",
                schedule_deletion,
                [
                    O::To(PendingDeletion),
                    O::To(PendingDeletion),
                    O::InvalidState,
                ],
            ),
            (
                "CancelKeyDeletion",
                cancel_deletion,
                [O::InvalidState, O::InvalidState, O::To(Disabled)],
            ),
        ];
        for (name, f, expected) in transitions {
            for (state, want) in states.iter().zip(expected) {
                assert_eq!(outcome(f(*state, ARN)), want, "{name} from {state:?}");
            }
        }
        let uses = [
            (Use::Cryptographic, [O::Ok, O::Disabled, O::InvalidState]),
            (Use::Rotation, [O::Ok, O::Disabled, O::InvalidState]),
            (Use::Manage, [O::Ok, O::Ok, O::InvalidState]),
        ];
        for (use_, expected) in uses {
            for (state, want) in states.iter().zip(expected) {
                assert_eq!(
                    use_outcome(check(*state, use_, ARN)),
                    want,
                    "{use_:?} in {state:?}"
                );
            }
        }
    }

    #[test]
    fn state_errors_name_the_key_as_aws_does() {
        let e = check(KeyState::Disabled, Use::Cryptographic, ARN).expect_err("disabled");
        assert_eq!(e.to_string(), format!("{ARN} is disabled."));
        let e = check(KeyState::PendingDeletion, Use::Manage, ARN).expect_err("pending");
        assert_eq!(e.to_string(), format!("{ARN} is pending deletion."));
    }
}
