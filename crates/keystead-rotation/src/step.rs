//! The four rotation steps and the [`Rotator`] contract. A rotator performs one step at a time;
//! ordering, resumption and progress belong to [`crate::run_rotation`].

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Error, SecretAccess};

/// One step of a rotation, in the order they run. The wire names are those of the rotation
/// Lambda event's `Step` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Step {
    /// `createSecret`: store a new value under the rotation's token with the label `AWSPENDING`.
    #[serde(rename = "createSecret")]
    CreateSecret,
    /// `setSecret`: make the protected service accept the pending value.
    #[serde(rename = "setSecret")]
    SetSecret,
    /// `testSecret`: check that the pending value works.
    #[serde(rename = "testSecret")]
    TestSecret,
    /// `finishSecret`: move `AWSCURRENT` to the pending version.
    #[serde(rename = "finishSecret")]
    FinishSecret,
}

impl Step {
    /// All steps in the order they run.
    pub const ALL: [Step; 4] = [
        Step::CreateSecret,
        Step::SetSecret,
        Step::TestSecret,
        Step::FinishSecret,
    ];

    /// The wire name (`createSecret`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Step::CreateSecret => "createSecret",
            Step::SetSecret => "setSecret",
            Step::TestSecret => "testSecret",
            Step::FinishSecret => "finishSecret",
        }
    }

    /// The step after this one, or `None` after `finishSecret`.
    pub fn next(self) -> Option<Step> {
        match self {
            Step::CreateSecret => Some(Step::SetSecret),
            Step::SetSecret => Some(Step::TestSecret),
            Step::TestSecret => Some(Step::FinishSecret),
            Step::FinishSecret => None,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Step {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Error> {
        Step::ALL
            .into_iter()
            .find(|step| step.as_str() == name)
            .ok_or_else(|| Error::UnknownStep {
                name: name.chars().take(64).collect(),
            })
    }
}

/// A rotation function: performs one step for one secret and rotation token.
///
/// Each step must be idempotent: the driver re-runs a step whose completion was not recorded
/// (after a crash), so running a completed step again must succeed and change nothing.
#[async_trait]
pub trait Rotator: Send + Sync {
    /// Runs `step` of the rotation whose pending version id is `token`.
    async fn run_step(
        &self,
        step: Step,
        secret_id: &str,
        token: &str,
        access: &dyn SecretAccess,
    ) -> Result<(), Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_trip_through_their_wire_names() {
        for step in Step::ALL {
            assert_eq!(step.as_str().parse::<Step>().expect("known"), step);
            let json = serde_json::to_string(&step).expect("serialize");
            assert_eq!(json, format!("\"{}\"", step.as_str()));
        }
        assert!("CreateSecret".parse::<Step>().is_err());
    }

    #[test]
    fn steps_follow_each_other_in_order() {
        let mut order = vec![Step::CreateSecret];
        while let Some(next) = order.last().and_then(|s| s.next()) {
            order.push(next);
        }
        assert_eq!(order, Step::ALL);
    }
}
