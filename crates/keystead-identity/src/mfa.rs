//! Virtual MFA devices: a TOTP seed per device, sealed under the root key, enabled for at most
//! one user (an IAM user or the account's root user) after two consecutive codes prove the
//! user holds it. `GetSessionToken` checks a code against the caller's enabled devices.

use std::collections::{BTreeMap, HashMap};

use keystead_store::{MfaDeviceRecord, MfaEnablement};
use keystead_types::{AccountId, Caller, Clock, UnixMillis};
use zeroize::Zeroizing;

use crate::{Error, IdentityService, check_path, check_user_name, totp};

/// The seed length of a virtual MFA device, as AWS's: 20 bytes (160 bits).
pub const MFA_SEED_LEN: usize = 20;

/// A new virtual MFA device, with its seed: returned once.
pub struct CreatedMfaDevice {
    /// The stored record (seed sealed).
    pub record: MfaDeviceRecord,
    /// The seed in RFC 4648 Base32 text, as authenticator apps take it.
    pub base32_seed: Zeroizing<String>,
    /// The device's `otpauth://totp/...` URI (it holds the seed).
    pub otpauth_uri: Zeroizing<String>,
    /// A PNG of the URI's QR code, for authenticator apps to scan.
    pub qr_code_png: Zeroizing<Vec<u8>>,
}

/// An enabled MFA device, as ListMFADevices shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct MfaDeviceInfo {
    /// The device's serial number (its ARN).
    pub serial_number: String,
    /// The user it is enabled for; `None` for the root user.
    pub user_name: Option<String>,
    /// When it was enabled.
    pub enabled_at: UnixMillis,
}

/// `arn:aws:iam::ACCOUNT:mfa{path}{name}`.
pub fn mfa_device_arn(account: &AccountId, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:mfa{path}{name}")
}

fn no_such_device(serial_number: &str) -> Error {
    Error::NoSuchEntity(format!(
        "VirtualMFADevice with serial number {serial_number} doesn't exist."
    ))
}

fn invalid_code() -> Error {
    Error::InvalidAuthenticationCode("Authentication code for device is not valid.".to_owned())
}

impl IdentityService {
    fn mfa_device(
        &self,
        account: &AccountId,
        serial_number: &str,
    ) -> Result<MfaDeviceRecord, Error> {
        self.read()
            .mfa_devices
            .get(serial_number)
            .filter(|d| &d.account_id == account)
            .cloned()
            .ok_or_else(|| no_such_device(serial_number))
    }

    fn unseal_seed(&self, device: &MfaDeviceRecord) -> Result<Zeroizing<Vec<u8>>, Error> {
        Ok(self
            .root_key
            .unseal_secret(&device.sealed_seed, device.serial_number.as_bytes())?)
    }

    /// The ARN `action` is authorized on for `user_name` (or the caller), and that user's name
    /// (`None` for the root user). A root caller may name itself by the account id (as
    /// ListMFADevices shows root's devices), since the wire requires `UserName` for
    /// EnableMFADevice and DeactivateMFADevice; a user of that name takes precedence.
    fn mfa_target(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
        action: &str,
    ) -> Result<Option<String>, Error> {
        let names_root = |n: &str| {
            caller.is_root()
                && n == caller.account_id.as_str()
                && !self
                    .read()
                    .users
                    .contains_key(&crate::user_key(&caller.account_id, n))
        };
        let user_name = user_name.filter(|n| !names_root(n));
        let target = self.target(caller, user_name)?;
        let resource = target
            .as_ref()
            .map_or_else(|| caller.principal_arn(), |u| u.arn());
        self.authorize(caller, action, &resource)?;
        Ok(target.map(|u| u.record.user_name.clone()))
    }

    /// CreateVirtualMFADevice: a new device with a random 20-byte seed, not yet enabled.
    pub async fn create_virtual_mfa_device(
        &self,
        caller: &Caller,
        device_name: &str,
        path: Option<&str>,
    ) -> Result<CreatedMfaDevice, Error> {
        let path = path.unwrap_or("/");
        check_path(path)?;
        check_user_name(device_name)?;
        let serial_number = mfa_device_arn(&caller.account_id, path, device_name);
        self.authorize(caller, "iam:CreateVirtualMFADevice", &serial_number)?;
        let _writer = self.writer.lock().await;
        let exists = self.read().mfa_devices.values().any(|d| {
            d.account_id == caller.account_id && d.device_name.eq_ignore_ascii_case(device_name)
        });
        if exists {
            return Err(Error::EntityAlreadyExists(
                "MFADevice entity at the same path and name already exists.".to_owned(),
            ));
        }
        let seed = Zeroizing::new(keystead_crypto::random_array::<MFA_SEED_LEN>()?);
        let record = MfaDeviceRecord {
            serial_number: serial_number.clone(),
            account_id: caller.account_id.clone(),
            device_name: device_name.to_owned(),
            path: path.to_owned(),
            sealed_seed: self
                .root_key
                .seal_secret(seed.as_slice(), serial_number.as_bytes())?,
            created_at: self.clock.now(),
            enabled: None,
        };
        let base32_seed = Zeroizing::new(totp::base32_encode(seed.as_slice()));
        let otpauth_uri = crate::qr::otpauth_uri(device_name, &caller.account_id, &base32_seed);
        let qr_code_png = crate::qr::qr_code_png(&otpauth_uri)?;
        self.store.put_mfa_device(&record).await?;
        self.write_state(|s| s.mfa_devices.insert(serial_number, record.clone()));
        Ok(CreatedMfaDevice {
            record,
            base32_seed,
            otpauth_uri,
            qr_code_png,
        })
    }

    /// EnableMFADevice: enables a device for `user_name` (or the caller) once
    /// `code1` and `code2` are its codes for two consecutive time steps.
    pub async fn enable_mfa_device(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
        serial_number: &str,
        code1: &str,
        code2: &str,
    ) -> Result<(), Error> {
        let user = self.mfa_target(caller, user_name, "iam:EnableMFADevice")?;
        let _writer = self.writer.lock().await;
        let mut device = self.mfa_device(&caller.account_id, serial_number)?;
        if device.enabled.is_some() {
            return Err(Error::EntityAlreadyExists(
                "MFA Device is already in use.".to_owned(),
            ));
        }
        let seed = self.unseal_seed(&device)?;
        let now = self.clock.now();
        let seconds = u64::try_from(now.0 / 1000).unwrap_or(0);
        let Some(step) = totp::verify_consecutive(&seed, code1, code2, seconds) else {
            return Err(invalid_code());
        };
        // The two codes that enabled the device cannot then open a session.
        if !self.use_mfa_step(&device.serial_number, step) {
            return Err(invalid_code());
        }
        device.enabled = Some(MfaEnablement {
            user_name: user,
            enabled_at: now,
        });
        self.store.put_mfa_device(&device).await?;
        self.write_state(|s| s.mfa_devices.insert(device.serial_number.clone(), device));
        Ok(())
    }

    /// ListMFADevices: the devices enabled for `user_name` (or the caller).
    pub fn list_mfa_devices(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
    ) -> Result<Vec<MfaDeviceInfo>, Error> {
        let user = self.mfa_target(caller, user_name, "iam:ListMFADevices")?;
        Ok(self
            .read()
            .mfa_devices
            .values()
            .filter(|d| d.account_id == caller.account_id)
            .filter_map(|d| {
                let e = d.enabled.as_ref()?;
                same_user(e.user_name.as_deref(), user.as_deref()).then(|| MfaDeviceInfo {
                    serial_number: d.serial_number.clone(),
                    user_name: e.user_name.clone(),
                    enabled_at: e.enabled_at,
                })
            })
            .collect())
    }

    /// DeactivateMFADevice: the device stays, no longer enabled for anyone.
    pub async fn deactivate_mfa_device(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
        serial_number: &str,
    ) -> Result<(), Error> {
        let user = self.mfa_target(caller, user_name, "iam:DeactivateMFADevice")?;
        let _writer = self.writer.lock().await;
        let mut device = self.mfa_device(&caller.account_id, serial_number)?;
        let enabled_for_user = device
            .enabled
            .as_ref()
            .is_some_and(|e| same_user(e.user_name.as_deref(), user.as_deref()));
        if !enabled_for_user {
            return Err(Error::NoSuchEntity(format!(
                "MFA Device with serial number {serial_number} is not enabled for this user."
            )));
        }
        device.enabled = None;
        self.store.put_mfa_device(&device).await?;
        self.write_state(|s| s.mfa_devices.insert(device.serial_number.clone(), device));
        Ok(())
    }

    /// DeleteVirtualMFADevice: refused while the device is enabled.
    pub async fn delete_virtual_mfa_device(
        &self,
        caller: &Caller,
        serial_number: &str,
    ) -> Result<(), Error> {
        self.authorize(caller, "iam:DeleteVirtualMFADevice", serial_number)?;
        let _writer = self.writer.lock().await;
        let device = self.mfa_device(&caller.account_id, serial_number)?;
        if device.enabled.is_some() {
            return Err(Error::DeleteConflict(
                "MFA VirtualDevice in use. Must deactivate first.".to_owned(),
            ));
        }
        self.store.delete_mfa_device(serial_number).await?;
        self.write_state(|s| s.mfa_devices.remove(serial_number));
        // A device created again under the same name has a new seed, and its codes are unused.
        self.mfa_steps_used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(serial_number);
        Ok(())
    }

    /// Checks an MFA code for GetSessionToken: `code` must be valid now for the device
    /// `serial_number`, enabled for the caller (its IAM user, or the root user). Returns the
    /// time of authentication.
    pub(crate) fn verify_mfa_code(
        &self,
        caller: &Caller,
        serial_number: &str,
        code: &str,
    ) -> Result<UnixMillis, Error> {
        let failed = || {
            Error::AccessDenied(
                "MultiFactorAuthentication failed with invalid MFA one time pass code.".to_owned(),
            )
        };
        let device = self
            .mfa_device(&caller.account_id, serial_number)
            .map_err(|_| failed())?;
        let me = caller.user.as_ref().map(|u| u.user_name.as_str());
        let enabled_for_caller = device
            .enabled
            .as_ref()
            .is_some_and(|e| same_user(e.user_name.as_deref(), me));
        if !enabled_for_caller {
            return Err(failed());
        }
        let seed = self.unseal_seed(&device)?;
        let now = self.clock.now();
        let seconds = u64::try_from(now.0 / 1000).unwrap_or(0);
        let step = totp::verify_totp(&seed, code, seconds).ok_or_else(failed)?;
        self.use_mfa_step(serial_number, step)
            .then_some(now)
            .ok_or_else(failed)
    }

    /// Records that `serial_number`'s code of TOTP step `step` has been used, if no code of
    /// this step or a later one has been: a code authenticates once, and an older code after a
    /// newer one never. Returns whether the step was still unused.
    ///
    /// The record is kept in memory; what a restart forgets, [`steps_used_at_start`] makes up
    /// for.
    fn use_mfa_step(&self, serial_number: &str, step: u64) -> bool {
        let mut used = self
            .mfa_steps_used
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match used.get(serial_number) {
            Some(&last) if step <= last => false,
            _ => {
                used.insert(serial_number.to_owned(), step);
                true
            }
        }
    }

    /// Whether `user_name` (an IAM user; `None`: the root user) of `account` has an MFA
    /// device enabled.
    pub(crate) fn has_enabled_mfa(&self, account: &AccountId, user_name: Option<&str>) -> bool {
        self.read().mfa_devices.values().any(|d| {
            &d.account_id == account
                && d.enabled
                    .as_ref()
                    .is_some_and(|e| same_user(e.user_name.as_deref(), user_name))
        })
    }
}

/// The used steps of a service that has just started: for every enabled device, every step
/// whose code is accepted now or was accepted before, since the process that ran before may
/// have accepted it and its memory of that is gone. A code of a later step, which `verify_totp`
/// accepts from the next step on (30-60 s after the start), works as usual.
pub(crate) fn steps_used_at_start(
    devices: &BTreeMap<String, MfaDeviceRecord>,
    clock: &dyn Clock,
) -> HashMap<String, u64> {
    let seconds = u64::try_from(clock.now().0 / 1000).unwrap_or(0);
    // `verify_totp` accepts the next step's code too.
    let last_acceptable = totp::totp_step(seconds) + 1;
    devices
        .values()
        .filter(|device| device.enabled.is_some())
        .map(|device| (device.serial_number.clone(), last_acceptable))
        .collect()
}

fn same_user(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}
