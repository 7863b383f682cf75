"""The seed document's promises, run against a live keystead.

The seed (customer-managed KMS keys for a contact-form application) asks for five keys with
per-service key policies and makes promises about them. This script creates the keys, their
aliases and policies, then checks each promise with real signed requests:

1. each service (RDS, S3, Lambda, Secrets Manager) can use its own key and no other;
2. CloudFront can Decrypt with the S3 website key but not Encrypt;
3. the seed's S3 policy, which names no administrator, is refused by the policy lockout
   safety check unless the caller explicitly bypasses it;
4. a principal of another account is denied until both the key policy and its own account's
   identity policy allow it;
5. ScheduleKeyDeletion is denied without MFA and allowed in a session opened with a valid
   TOTP code from a virtual MFA device.

`run.sh` beside this file starts a throwaway keystead and runs this script against it. The
interop suite (tests/interop/test_seed_scenario.py) calls `run()` directly.
"""

from __future__ import annotations

import argparse
import base64
import configparser
import hashlib
import hmac
import json
import struct
import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional

import boto3
import botocore.exceptions
from botocore.config import Config

REGION = "us-east-1"

# (name, alias, description, service principal that uses the key)
KEYS = [
    ("rds", "alias/rds-encryption-contact-db", "RDS Encryption Key", "rds.amazonaws.com"),
    ("s3-website", "alias/s3-website-encryption", "S3 Website Encryption Key", "s3.amazonaws.com"),
    (
        "s3-artifacts",
        "alias/s3-artifacts-encryption",
        "S3 Artifacts Encryption Key",
        "s3.amazonaws.com",
    ),
    ("lambda-env", "alias/lambda-env-encryption", "Lambda Env Encryption Key", "lambda.amazonaws.com"),
    (
        "secrets-manager",
        "alias/secrets-manager-encryption",
        "Secrets Manager Key",
        "secretsmanager.amazonaws.com",
    ),
]

SERVICE_ACTIONS = [
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
]


@dataclass
class Creds:
    """One access key pair (and session token, for temporary credentials)."""

    access_key_id: str
    secret_access_key: str
    session_token: Optional[str] = None


def admin_statement(account: str) -> dict:
    """The seed's "Enable IAM User Permissions": the account's IAM policies decide."""
    return {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def service_statement(sid: str, service: str, actions: list[str]) -> dict:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": actions,
        "Resource": "*",
    }


MFA_DELETION = {
    "Sid": "Require MFA for key deletion",
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": ["kms:ScheduleKeyDeletion"],
    "Resource": "*",
    "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
}


def seed_s3_policy() -> dict:
    """The seed's S3 key policy, verbatim: S3 may use the key, CloudFront may only read."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            service_statement("Allow S3 Service", "s3.amazonaws.com", SERVICE_ACTIONS),
            service_statement(
                "Allow CloudFront Service",
                "cloudfront.amazonaws.com",
                ["kms:Decrypt", "kms:DescribeKey"],
            ),
        ],
    }


def key_policy(name: str, account: str, service: str) -> dict:
    """The policy each key gets: the seed's statements, the account's administrators (the seed's
    RDS policy shows the statement; the S3 policy needs it to pass the lockout check) and the
    seed's MFA deletion protection."""
    if name.startswith("s3-"):
        statements = seed_s3_policy()["Statement"]
    else:
        label = {"rds": "RDS", "lambda-env": "Lambda", "secrets-manager": "Secrets Manager"}[name]
        statements = [service_statement(f"Allow {label} Service", service, SERVICE_ACTIONS)]
    return {
        "Version": "2012-10-17",
        "Statement": [admin_statement(account), *statements, MFA_DELETION],
    }


def totp(seed: bytes, step: int) -> str:
    """RFC 6238 TOTP (SHA-1, 6 digits, 30-second steps), as virtual MFA apps compute it."""
    mac = hmac.new(seed, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


class Scenario:
    """The seed's deployment on one keystead endpoint."""

    def __init__(
        self,
        endpoint: str,
        account: str,
        admin: Creds,
        services: dict[str, Creds],
        other_account: str,
        other_admin: Creds,
        say: Callable[[str], None] = print,
    ):
        self.endpoint = endpoint
        self.account = account
        self.admin = admin
        self.services = services
        self.other_account = other_account
        self.other_admin = other_admin
        self.say = say
        self.keys: dict[str, dict] = {}

    # --- clients and checks ------------------------------------------------------------

    def client(self, service: str, creds: Creds):
        session = boto3.session.Session(
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
            aws_session_token=creds.session_token,
            region_name=REGION,
        )
        config = Config(retries={"max_attempts": 1, "mode": "standard"})
        return session.client(service, endpoint_url=self.endpoint, config=config)

    def promise(self, text: str) -> None:
        self.say(f"  ok  {text}")

    @staticmethod
    def denied(call: Callable[[], object]) -> str:
        """Runs `call`, which must fail; returns the error code."""
        try:
            call()
        except botocore.exceptions.ClientError as e:
            return e.response["Error"]["Code"]
        raise AssertionError("the call succeeded but had to be denied")

    # --- the steps ---------------------------------------------------------------------

    def create_keys(self) -> None:
        kms = self.client("kms", self.admin)
        self.say("creating the seed's five keys")
        for name, alias, description, service in KEYS:
            policy = json.dumps(key_policy(name, self.account, service))
            meta = kms.create_key(
                Description=description,
                Policy=policy,
                Tags=[{"TagKey": "Application", "TagValue": "contact-form"}],
            )["KeyMetadata"]
            kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
            kms.enable_key_rotation(KeyId=meta["KeyId"])
            self.keys[name] = {"id": meta["KeyId"], "arn": meta["Arn"], "alias": alias}
            self.promise(f"{alias} -> {meta['KeyId']} (rotation on, {service} allowed)")

    def lockout_check(self) -> None:
        kms = self.client("kms", self.admin)
        code = self.denied(lambda: kms.create_key(Policy=json.dumps(seed_s3_policy())))
        assert code == "MalformedPolicyDocumentException", code
        self.promise(
            "the seed's S3 policy verbatim is refused by the lockout safety check "
            "(it names no administrator)"
        )
        meta = kms.create_key(
            Policy=json.dumps(seed_s3_policy()), BypassPolicyLockoutSafetyCheck=True
        )["KeyMetadata"]
        code = self.denied(lambda: kms.describe_key(KeyId=meta["KeyId"]))
        assert code == "AccessDeniedException", code
        self.promise("...and with the check bypassed, the account itself is locked out of it")

    def services_use_their_own_keys(self) -> None:
        for service, creds in self.services.items():
            if service == "cloudfront.amazonaws.com":
                continue
            kms = self.client("kms", creds)
            own = [n for n, _, _, s in KEYS if s == service]
            for name, alias, _, key_service in KEYS:
                if key_service == service:
                    blob = kms.encrypt(KeyId=alias, Plaintext=b"contact form row")["CiphertextBlob"]
                    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"contact form row"
                    data_key = kms.generate_data_key(KeyId=alias, KeySpec="AES_256")
                    assert len(data_key["Plaintext"]) == 32
                else:
                    code = self.denied(
                        lambda alias=alias: kms.encrypt(KeyId=self.keys_arn(alias), Plaintext=b"x")
                    )
                    assert code == "AccessDeniedException", (service, alias, code)
            self.promise(f"{service} uses {', '.join(own)} and is denied every other key")

    def keys_arn(self, alias: str) -> str:
        return next(k["arn"] for k in self.keys.values() if k["alias"] == alias)

    def cloudfront_reads_but_cannot_write(self) -> None:
        s3 = self.client("kms", self.services["s3.amazonaws.com"])
        cloudfront = self.client("kms", self.services["cloudfront.amazonaws.com"])
        website = self.keys["s3-website"]
        blob = s3.encrypt(KeyId=website["arn"], Plaintext=b"<html>contact</html>")["CiphertextBlob"]
        plain = cloudfront.decrypt(CiphertextBlob=blob, KeyId=website["arn"])["Plaintext"]
        assert plain == b"<html>contact</html>"
        assert cloudfront.describe_key(KeyId=website["arn"])["KeyMetadata"]["KeyId"] == website["id"]
        code = self.denied(lambda: cloudfront.encrypt(KeyId=website["arn"], Plaintext=b"x"))
        assert code == "AccessDeniedException", code
        code = self.denied(
            lambda: cloudfront.generate_data_key(KeyId=website["arn"], KeySpec="AES_256")
        )
        assert code == "AccessDeniedException", code
        self.promise("CloudFront decrypts with the S3 website key and cannot encrypt with it")

    def cross_account(self) -> None:
        rds = self.keys["rds"]
        admin_kms = self.client("kms", self.admin)
        other_iam = self.client("iam", self.other_admin)
        user = "partner-app"
        other_iam.create_user(UserName=user)
        key = other_iam.create_access_key(UserName=user)["AccessKey"]
        partner = self.client("kms", Creds(key["AccessKeyId"], key["SecretAccessKey"]))
        # IAM changes take effect at once in keystead (AWS takes seconds to propagate them).
        encrypt = lambda: partner.encrypt(KeyId=rds["arn"], Plaintext=b"shared row")  # noqa: E731

        assert self.denied(encrypt) == "AccessDeniedException"
        self.promise(f"account {self.other_account}'s user is denied the RDS key at first")

        user_policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"],
                    "Resource": rds["arn"],
                }
            ],
        }
        other_iam.put_user_policy(
            UserName=user, PolicyName="use-rds-key", PolicyDocument=json.dumps(user_policy)
        )
        assert self.denied(encrypt) == "AccessDeniedException"
        self.promise("...still denied with only its own account's policy allowing it")

        policy = key_policy("rds", self.account, "rds.amazonaws.com")
        policy["Statement"].insert(
            2,
            {
                "Sid": "Allow the partner account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{self.other_account}:root"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
            },
        )
        admin_kms.put_key_policy(KeyId=rds["id"], PolicyName="default", Policy=json.dumps(policy))
        blob = encrypt()["CiphertextBlob"]
        assert partner.decrypt(CiphertextBlob=blob)["Plaintext"] == b"shared row"
        self.promise("...allowed once the key policy and its account's policy both allow it")

        other_iam.delete_user_policy(UserName=user, PolicyName="use-rds-key")
        assert self.denied(encrypt) == "AccessDeniedException"
        self.promise("...and denied again when its account withdraws its own policy")

    def mfa_protected_deletion(self) -> None:
        iam = self.client("iam", self.admin)
        admin_kms = self.client("kms", self.admin)
        lambda_key = self.keys["lambda-env"]
        user = "key-administrator"
        iam.create_user(UserName=user)
        iam.put_user_policy(
            UserName=user,
            PolicyName="kms-admin",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName=user)["AccessKey"]
        long_term = Creds(key["AccessKeyId"], key["SecretAccessKey"])
        device = iam.create_virtual_mfa_device(VirtualMFADeviceName="key-administrator")[
            "VirtualMFADevice"
        ]
        seed = base64.b32decode(device["Base32StringSeed"])
        serial = device["SerialNumber"]
        step = int(time.time()) // 30
        iam.enable_mfa_device(
            UserName=user,
            SerialNumber=serial,
            AuthenticationCode1=totp(seed, step - 1),
            AuthenticationCode2=totp(seed, step),
        )

        delete = lambda kms: kms.schedule_key_deletion(  # noqa: E731
            KeyId=lambda_key["id"], PendingWindowInDays=7
        )
        assert self.denied(lambda: delete(admin_kms)) == "AccessDeniedException"
        assert self.denied(lambda: delete(self.client("kms", long_term))) == "AccessDeniedException"
        self.promise("ScheduleKeyDeletion is denied without MFA (root and administrator alike)")

        sts = self.client("sts", long_term)
        code = self.denied(
            lambda: sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, step + 20))
        )
        assert code == "AccessDenied", code
        plain = sts.get_session_token()["Credentials"]
        no_mfa = self.client(
            "kms", Creds(plain["AccessKeyId"], plain["SecretAccessKey"], plain["SessionToken"])
        )
        assert self.denied(lambda: delete(no_mfa)) == "AccessDeniedException"
        self.promise("...denied in a session opened without MFA or with a wrong code")

        # The codes that enabled the device are spent: the next one (accepted a step early).
        session = sts.get_session_token(
            SerialNumber=serial, TokenCode=totp(seed, int(time.time()) // 30 + 1)
        )["Credentials"]
        mfa = self.client(
            "kms",
            Creds(session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"]),
        )
        scheduled = delete(mfa)
        assert scheduled["KeyState"] == "PendingDeletion"
        self.promise("...and scheduled in a session opened with a valid TOTP code")
        mfa.cancel_key_deletion(KeyId=lambda_key["id"])
        mfa.enable_key(KeyId=lambda_key["id"])
        state = admin_kms.describe_key(KeyId=lambda_key["id"])["KeyMetadata"]["KeyState"]
        assert state == "Enabled", state
        self.promise("(deletion cancelled; the Lambda key is Enabled again)")

    def run(self) -> None:
        self.create_keys()
        self.lockout_check()
        self.say("checking the seed's promises")
        self.services_use_their_own_keys()
        self.cloudfront_reads_but_cannot_write()
        self.cross_account()
        self.mfa_protected_deletion()
        self.say("all promises hold")


def profile(ini: configparser.ConfigParser, name: str) -> Creds:
    section = ini[name]
    return Creds(section["aws_access_key_id"].strip(), section["aws_secret_access_key"].strip())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="keystead's URL")
    parser.add_argument(
        "--credentials-file",
        required=True,
        help="keystead's credentials file (DATA_DIR/credentials)",
    )
    parser.add_argument("--account", required=True, help="the application's account id")
    parser.add_argument("--other-account", required=True, help="a second account's id")
    parser.add_argument(
        "--service-profile",
        action="append",
        default=[],
        metavar="SERVICE=PROFILE",
        help="credentials acting as a service principal, e.g. s3.amazonaws.com=keystead-s3",
    )
    args = parser.parse_args(argv)
    ini = configparser.ConfigParser()
    ini.read(args.credentials_file)
    services = {}
    for item in args.service_profile:
        service, _, name = item.partition("=")
        services[service] = profile(ini, name)
    Scenario(
        endpoint=args.endpoint,
        account=args.account,
        admin=profile(ini, "keystead"),
        services=services,
        other_account=args.other_account,
        other_admin=profile(ini, f"keystead-{args.other_account}"),
    ).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
