"""A representative subset of keystead-authz's policy-evaluation cases, decided over the wire:
real SigV4-signed boto3 requests from real IAM users of two accounts (no --dev) against a real
server. Each test names the case family it mirrors in crates/keystead-authz/tests/cases/ and
asserts either success or AccessDeniedException with AWS's message form.
"""

import json
import re
import subprocess

import botocore.exceptions
import pytest

from keystead_harness import KeysteadServer, hermetic_env, keystead_bin, unique


def create_account(data_dir) -> dict:
    import configparser

    result = subprocess.run(
        [str(keystead_bin()), "account", "create", "--data-dir", str(data_dir)],
        capture_output=True,
        env=hermetic_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
    account = re.search(r"^account id:\s+(\d{12})\s*$", result.stdout.decode(), re.M).group(1)
    ini = configparser.ConfigParser()
    ini.read(data_dir / "credentials")
    profile = ini[f"keystead-{account}"]
    return {
        "account": account,
        "access_key_id": profile["aws_access_key_id"],
        "secret_access_key": profile["aws_secret_access_key"],
    }


class World:
    """Account A (the server's first account, owner of every key) and account B."""

    def __init__(self, server: KeysteadServer, b: dict):
        self.server = server
        self.a = server.account_id
        self.b = b["account"]
        self.root_a = server.client("kms")
        self.iam_a = server.client("iam")
        creds_b = dict(access_key_id=b["access_key_id"], secret_access_key=b["secret_access_key"])
        self.root_b = server.client("kms", **creds_b)
        self.iam_b = server.client("iam", **creds_b)

    def user(self, account: str, *policies: dict):
        """A new IAM user of `account` ('a' or 'b') with inline `policies`: (arn, kms client)."""
        iam = self.iam_a if account == "a" else self.iam_b
        name = unique("u")
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        key = iam.create_access_key(UserName=name)["AccessKey"]
        for i, p in enumerate(policies):
            iam.put_user_policy(UserName=name, PolicyName=f"p{i}", PolicyDocument=json.dumps(p))
        kms = self.server.client(
            "kms", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
        )
        return arn, kms

    def key(self, *statements: dict, root_statement: bool = True, **kwargs) -> dict:
        """A key of account A whose policy is the default statement (unless not
        `root_statement`) plus `statements`."""
        body = list(statements)
        if root_statement:
            body.insert(0, statement(f"arn:aws:iam::{self.a}:root", "kms:*", sid="Root"))
        policy = {"Version": "2012-10-17", "Statement": body}
        return self.root_a.create_key(
            Policy=json.dumps(policy),
            BypassPolicyLockoutSafetyCheck=not root_statement,
            **kwargs,
        )["KeyMetadata"]


def statement(principal, action, effect="Allow", sid=None, condition=None, not_principal=False):
    s = {
        "Effect": effect,
        ("NotPrincipal" if not_principal else "Principal"): (
            principal if principal == "*" else {"AWS": principal}
        ),
        "Action": action,
        "Resource": "*",
    }
    if sid:
        s["Sid"] = sid
    if condition:
        s["Condition"] = condition
    return s


def identity(action, resource="*", effect="Allow", condition=None) -> dict:
    s = {"Effect": effect, "Action": action, "Resource": resource}
    if condition:
        s["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [s]}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("keystead-policy-wire")
    server = KeysteadServer(base / "data", base / "logs").start()
    server.stop()
    b = create_account(server.data_dir)
    server.start()
    yield World(server, b)
    code = server.stop()
    assert code == 0, f"keystead exited with {code}\n{server.stderr()[-4000:]}"
    assert "panicked" not in server.stderr(), server.stderr()[-4000:]


def denied(call, **kwargs) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kwargs)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException", e.value.response
    return e.value.response["Error"]["Message"]


def encrypt(kms, key, context=None):
    kwargs = {"KeyId": key["Arn"], "Plaintext": b"x"}
    if context is not None:
        kwargs["EncryptionContext"] = context
    return kms.encrypt(**kwargs)["CiphertextBlob"]


# --- evaluation.json: key policy and identity policy ------------------------------------------


def test_the_account_root_is_allowed_by_the_default_policy(world):
    key = world.key()
    blob = encrypt(world.root_a, key)
    assert world.root_a.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_a_user_needs_an_identity_policy_when_the_key_policy_delegates_to_the_account(world):
    key = world.key()
    arn, kms = world.user("a")
    message = denied(kms.encrypt, KeyId=key["Arn"], Plaintext=b"x")
    assert message == (
        f"User: {arn} is not authorized to perform: kms:Encrypt on resource: {key['Arn']} "
        "because no identity-based policy allows the kms:Encrypt action"
    )


def test_an_identity_policy_allows_only_its_actions_and_resources(world):
    key, other = world.key(), world.key()
    _, kms = world.user("a", identity("kms:Encrypt", key["Arn"]))
    encrypt(kms, key)
    denied(kms.describe_key, KeyId=key["Arn"])
    denied(kms.encrypt, KeyId=other["Arn"], Plaintext=b"x")


def test_a_key_policy_naming_the_user_allows_without_an_identity_policy(world):
    arn, kms = world.user("a")
    key = world.key(statement(arn, ["kms:Encrypt", "kms:DescribeKey"]))
    encrypt(kms, key)
    denied(kms.decrypt, CiphertextBlob=encrypt(world.root_a, key))


def test_without_an_account_statement_the_root_user_and_iam_policies_get_nothing(world):
    arn, kms = world.user("a", identity("kms:*"))
    user_only = world.key(statement(arn, "kms:*"), root_statement=False)
    encrypt(kms, user_only)
    message = denied(world.root_a.describe_key, KeyId=user_only["KeyId"])
    assert "no resource-based policy allows the kms:DescribeKey action" in message
    _, other_user = world.user("a", identity("kms:*"))
    denied(other_user.encrypt, KeyId=user_only["Arn"], Plaintext=b"x")


def test_an_explicit_deny_in_the_key_policy_wins_over_every_allow(world):
    arn, kms = world.user("a", identity("kms:*"))
    key = world.key(statement(arn, "kms:Decrypt", effect="Deny"))
    blob = encrypt(kms, key)
    message = denied(kms.decrypt, CiphertextBlob=blob)
    assert message.endswith("with an explicit deny in a resource-based policy"), message


def test_an_explicit_deny_in_an_identity_policy_wins(world):
    key = world.key()
    _, kms = world.user("a", identity("kms:*"), identity("kms:Encrypt", effect="Deny"))
    message = denied(kms.encrypt, KeyId=key["Arn"], Plaintext=b"x")
    assert message.endswith("with an explicit deny in an identity-based policy"), message
    kms.describe_key(KeyId=key["Arn"])


def test_a_deny_with_not_principal_spares_only_the_listed_principals(world):
    arn, kms = world.user("a", identity("kms:*"))
    _, other = world.user("a", identity("kms:*"))
    key = world.key(
        statement([arn, f"arn:aws:iam::{world.a}:root"], "kms:Encrypt", effect="Deny", not_principal=True)
    )
    encrypt(kms, key)
    encrypt(world.root_a, key)
    denied(other.encrypt, KeyId=key["Arn"], Plaintext=b"x")


# --- evaluation.json: cross-account ------------------------------------------------------------


def test_another_account_is_denied_by_the_default_policy(world):
    key = world.key()
    message = denied(world.root_b.encrypt, KeyId=key["Arn"], Plaintext=b"x")
    assert message.startswith(f"User: arn:aws:iam::{world.b}:root is not authorized"), message
    assert message.endswith("because no resource-based policy allows the kms:Encrypt action")


def test_across_accounts_both_the_key_policy_and_the_callers_identity_policy_must_allow(world):
    key = world.key(statement(f"arn:aws:iam::{world.b}:root", ["kms:Encrypt", "kms:Decrypt"]))
    encrypt(world.root_b, key)  # the other account's root user holds its account's permissions
    arn, without = world.user("b")
    message = denied(without.encrypt, KeyId=key["Arn"], Plaintext=b"x")
    assert "no identity-based policy allows" in message, message
    _, with_policy = world.user("b", identity(["kms:Encrypt", "kms:Decrypt"], key["Arn"]))
    blob = encrypt(with_policy, key)
    assert with_policy.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    denied(with_policy.describe_key, KeyId=key["Arn"])


def test_a_key_policy_naming_an_external_user_still_needs_its_identity_policy(world):
    arn, kms = world.user("b")
    key = world.key(statement(arn, "kms:Encrypt"))
    denied(kms.encrypt, KeyId=key["Arn"], Plaintext=b"x")
    world.iam_b.put_user_policy(
        UserName=arn.rsplit("/", 1)[1], PolicyName="use", PolicyDocument=json.dumps(identity("kms:Encrypt"))
    )
    encrypt(kms, key)  # the new identity policy applies at once


def test_a_policy_naming_a_principal_that_does_not_exist_is_malformed(world):
    with pytest.raises(world.root_a.exceptions.MalformedPolicyDocumentException) as e:
        world.key(statement(f"arn:aws:iam::{world.a}:user/{unique('ghost')}", "kms:Decrypt"))
    assert "invalid principals" in str(e.value)


# --- conditions_*.json: encryption context and request facts -----------------------------------


def test_an_encryption_context_condition_decides_by_the_requests_context(world):
    key = world.key(
        statement(
            "*",
            "kms:Encrypt",
            effect="Deny",
            condition={"StringNotEquals": {"kms:EncryptionContext:tenant": "a"}},
        )
    )
    encrypt(world.root_a, key, {"tenant": "a"})
    denied(world.root_a.encrypt, KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"tenant": "b"})
    denied(world.root_a.encrypt, KeyId=key["Arn"], Plaintext=b"x")


def test_for_all_values_limits_the_encryption_context_keys(world):
    arn, kms = world.user("a")
    key = world.key(
        statement(
            arn,
            "kms:Encrypt",
            condition={"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["tenant", "app"]}},
        )
    )
    encrypt(kms, key, {"tenant": "a", "app": "web"})
    encrypt(kms, key)  # no context: ForAllValues holds for an empty set
    denied(kms.encrypt, KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"secret": "s"})


def test_a_policy_variable_matches_the_callers_user_name_against_a_resource_tag(world):
    policy = identity(
        "kms:Encrypt", condition={"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}}
    )
    arn, kms = world.user("a", policy)
    name = arn.rsplit("/", 1)[1]
    mine = world.key(Tags=[{"TagKey": "owner", "TagValue": name}])
    theirs = world.key(Tags=[{"TagKey": "owner", "TagValue": "someone-else"}])
    encrypt(kms, mine)
    denied(kms.encrypt, KeyId=theirs["Arn"], Plaintext=b"x")


def test_source_ip_and_secure_transport_come_from_the_connection(world):
    loopback_only = world.key(
        statement("*", "kms:Encrypt", effect="Deny", condition={"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}})
    )
    encrypt(world.root_a, loopback_only)
    tls_only = world.key(
        statement("*", "kms:Encrypt", effect="Deny", condition={"Bool": {"aws:SecureTransport": "false"}})
    )
    denied(world.root_a.encrypt, KeyId=tls_only["Arn"], Plaintext=b"x")  # this server is plain HTTP


# --- grants.json ---------------------------------------------------------------------------------


def test_a_grant_allows_its_operations_to_an_external_grantee_on_its_own(world):
    key = world.key()
    arn, kms = world.user("b")  # no identity policy at all
    world.root_a.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn, Operations=["Encrypt"])
    encrypt(kms, key)  # usable as soon as CreateGrant returns
    denied(kms.decrypt, CiphertextBlob=encrypt(world.root_a, key))


def test_a_grant_constraint_requires_the_encryption_context(world):
    key = world.key()
    arn, kms = world.user("a")
    world.root_a.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=arn,
        Operations=["Encrypt", "Decrypt"],
        Constraints={"EncryptionContextEquals": {"tenant": "a"}},
    )
    blob = encrypt(kms, key, {"tenant": "a"})
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"tenant": "a"})["Plaintext"] == b"x"
    denied(kms.encrypt, KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"tenant": "b"})
    denied(kms.encrypt, KeyId=key["Arn"], Plaintext=b"x")


def test_a_grant_to_an_account_delegates_to_that_accounts_identity_policies(world):
    key = world.key()
    world.root_a.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=f"arn:aws:iam::{world.b}:root", Operations=["Encrypt"]
    )
    encrypt(world.root_b, key)
    _, without = world.user("b")
    denied(without.encrypt, KeyId=key["Arn"], Plaintext=b"x")
    _, with_policy = world.user("b", identity("kms:Encrypt"))
    encrypt(with_policy, key)


def test_a_revoked_grant_allows_nothing_from_the_next_request_on(world):
    key = world.key()
    arn, kms = world.user("b")
    grant = world.root_a.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn, Operations=["Encrypt"])
    encrypt(kms, key)
    world.root_a.revoke_grant(KeyId=key["KeyId"], GrantId=grant["GrantId"])
    denied(kms.encrypt, KeyId=key["Arn"], Plaintext=b"x")


def test_an_identity_policy_change_is_seen_by_the_next_request(world):
    key = world.key()
    arn, kms = world.user("a", identity("kms:Encrypt"))
    encrypt(kms, key)
    encrypt(kms, key)  # now from the decision cache
    name = arn.rsplit("/", 1)[1]
    world.iam_a.put_user_policy(
        UserName=name, PolicyName="deny", PolicyDocument=json.dumps(identity("kms:Encrypt", effect="Deny"))
    )
    denied(kms.encrypt, KeyId=key["Arn"], Plaintext=b"x")
    world.iam_a.delete_user_policy(UserName=name, PolicyName="deny")
    encrypt(kms, key)
