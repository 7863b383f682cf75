"""Virtual MFA devices over IAM with boto3 (create, enable with two consecutive TOTP codes,
list, deactivate, delete) and MFA-authenticated STS sessions, with a Python RFC 6238 TOTP."""

import base64
import hashlib
import hmac
import json
import struct
import time

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from keystead_harness import DEFAULT_REGION, unique


def totp(seed: bytes, step: int) -> str:
    mac = hmac.new(seed, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def now_step() -> int:
    return int(time.time()) // 30


def error_code(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response["Error"]["Code"]


def client_for(server, service, key_id, secret, token=None):
    session = boto3.session.Session(
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name=DEFAULT_REGION,
    )
    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    return session.client(service, endpoint_url=server.url, config=config)


def create_device(iam, name=None):
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=name or unique("mfa"))[
        "VirtualMFADevice"
    ]
    seed = base64.b32decode(device["Base32StringSeed"])
    return device["SerialNumber"], seed


def enable(iam, serial, seed, **kwargs):
    step = now_step()
    iam.enable_mfa_device(
        SerialNumber=serial,
        AuthenticationCode1=totp(seed, step - 1),
        AuthenticationCode2=totp(seed, step),
        **kwargs,
    )


def test_virtual_mfa_devices_round_trip(server):
    iam = server.client("iam")
    user = unique("mfauser")
    iam.create_user(UserName=user)
    name = unique("dev")
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    serial = device["SerialNumber"]
    assert serial == f"arn:aws:iam::{server.account_id}:mfa/{name}"
    seed = base64.b32decode(device["Base32StringSeed"])
    assert len(seed) == 20
    # The QR code of the otpauth:// URI, as a PNG (decoded back to the URI in keystead-identity's
    # unit tests): a square greyscale image with room for a version 4+ code at 8 px per module.
    png = device["QRCodePNG"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width == height and width >= (33 + 8) * 8, (width, height)
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_virtual_mfa_device(VirtualMFADeviceName=name)

    step = now_step()
    with pytest.raises(iam.exceptions.InvalidAuthenticationCodeException):
        iam.enable_mfa_device(
            UserName=user,
            SerialNumber=serial,
            AuthenticationCode1=totp(seed, step),
            AuthenticationCode2=totp(seed, step - 1),
        )
    with pytest.raises(iam.exceptions.InvalidAuthenticationCodeException):
        iam.enable_mfa_device(
            UserName=user,
            SerialNumber=serial,
            AuthenticationCode1=totp(seed, step - 10),
            AuthenticationCode2=totp(seed, step - 9),
        )
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        enable(iam, serial + "x", seed, UserName=user)
    enable(iam, serial, seed, UserName=user)
    devices = iam.list_mfa_devices(UserName=user)["MFADevices"]
    assert [(d["SerialNumber"], d["UserName"]) for d in devices] == [(serial, user)]
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        enable(iam, serial, seed, UserName=user)
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_user(UserName=user)

    iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    assert iam.list_mfa_devices(UserName=user)["MFADevices"] == []
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    iam.delete_user(UserName=user)


def test_the_root_user_may_have_a_device(server):
    # The root user names itself by the account id, as ListMFADevices lists its devices.
    iam = server.client("iam")
    root = server.account_id
    serial, seed = create_device(iam)
    enable(iam, serial, seed, UserName=root)
    listed = iam.list_mfa_devices()["MFADevices"]
    assert (serial, root) in [(d["SerialNumber"], d["UserName"]) for d in listed]
    iam.deactivate_mfa_device(UserName=root, SerialNumber=serial)
    iam.delete_virtual_mfa_device(SerialNumber=serial)


def test_devices_survive_a_restart(server_factory):
    s = server_factory()
    iam = s.client("iam")
    user = unique("keep")
    iam.create_user(UserName=user)
    serial, seed = create_device(iam)
    enable(iam, serial, seed, UserName=user)
    s.restart()
    iam = s.client("iam")
    assert [d["SerialNumber"] for d in iam.list_mfa_devices(UserName=user)["MFADevices"]] == [serial]


def test_a_key_policy_can_require_mfa_for_schedule_key_deletion(server):
    iam = server.client("iam")
    account = server.account_id
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:ScheduleKeyDeletion",
                "Resource": "*",
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
            },
        ],
    }
    key_id = server.client().create_key(Policy=json.dumps(policy))["KeyMetadata"]["KeyId"]
    user = unique("mfakms")
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="kms",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "kms:*", "Resource": server.key_arn(key_id)}
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    serial, seed = create_device(iam)
    enable(iam, serial, seed, UserName=user)

    long_term = client_for(server, "kms", key["AccessKeyId"], key["SecretAccessKey"])
    assert long_term.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id
    # Long-term keys carry no aws:MultiFactorAuthPresent: BoolIfExists matches, so denied.
    assert error_code(lambda: long_term.schedule_key_deletion(KeyId=key_id)) == "AccessDeniedException"

    user_sts = client_for(server, "sts", key["AccessKeyId"], key["SecretAccessKey"])
    plain = user_sts.get_session_token()["Credentials"]
    plain_kms = client_for(
        server, "kms", plain["AccessKeyId"], plain["SecretAccessKey"], plain["SessionToken"]
    )
    assert error_code(lambda: plain_kms.schedule_key_deletion(KeyId=key_id)) == "AccessDeniedException"

    wrong = totp(seed, now_step() + 5)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_sts.get_session_token(SerialNumber=serial, TokenCode=wrong)
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert "invalid MFA one time pass code" in e.value.response["Error"]["Message"]
    other_serial, _ = create_device(iam)
    assert error_code(
        lambda: user_sts.get_session_token(SerialNumber=other_serial, TokenCode=totp(seed, now_step()))
    ) == "AccessDenied"

    # The enabling codes are spent: the next step's code (accepted one step early).
    mfa = user_sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, now_step() + 1))[
        "Credentials"
    ]
    mfa_kms = client_for(server, "kms", mfa["AccessKeyId"], mfa["SecretAccessKey"], mfa["SessionToken"])
    deletion = mfa_kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert deletion["KeyState"] == "PendingDeletion"


def test_mfa_sessions_survive_a_restart(server_factory):
    s = server_factory()
    iam = s.client("iam")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{s.account_id}:root"}, "Action": "kms:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:ScheduleKeyDeletion",
                "Resource": "*",
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
            },
        ],
    }
    key_id = s.client().create_key(Policy=json.dumps(policy))["KeyMetadata"]["KeyId"]
    serial, seed = create_device(iam)
    enable(iam, serial, seed, UserName=s.account_id)
    creds = s.client("sts").get_session_token(
        SerialNumber=serial, TokenCode=totp(seed, now_step() + 1)
    )["Credentials"]
    s.restart()
    kms = client_for(s, "kms", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert kms.schedule_key_deletion(KeyId=key_id)["KeyState"] == "PendingDeletion"


def test_an_mfa_code_opens_one_session_and_never_a_second(server):
    iam = server.client("iam")
    serial, seed = create_device(iam)
    enable(iam, serial, seed, UserName=server.account_id)
    sts = server.client("sts")
    # The codes that enabled the device are spent.
    assert error_code(
        lambda: sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, now_step()))
    ) == "AccessDenied"
    code = totp(seed, now_step() + 1)
    first = sts.get_session_token(SerialNumber=serial, TokenCode=code)["Credentials"]
    assert first["AccessKeyId"].startswith("ASIA")
    with pytest.raises(botocore.exceptions.ClientError) as replayed:
        sts.get_session_token(SerialNumber=serial, TokenCode=code)
    assert replayed.value.response["Error"]["Code"] == "AccessDenied"
    assert "invalid MFA one time pass code" in replayed.value.response["Error"]["Message"]
