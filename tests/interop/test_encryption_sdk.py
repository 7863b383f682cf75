"""The AWS Encryption SDK for Python, unchanged, encrypting and decrypting messages through
keystead keys: it calls GenerateDataKey, Encrypt and Decrypt with its own encryption context and
checks the results itself.

The SDK builds its own KMS clients from a botocore session; botocore sends them to keystead
because of AWS_ENDPOINT_URL_KMS (service-specific endpoints, honoured by botocore >= 1.31).
"""

from __future__ import annotations

import os

import aws_encryption_sdk
import botocore.session
import pytest
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
from aws_encryption_sdk.key_providers.kms import DiscoveryFilter

CONTEXT = {"app": "contact-form", "table": "messages"}


@pytest.fixture(scope="module")
def sdk_env(server):
    """Points every botocore client made in this module at the server."""
    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_ENDPOINT_URL_KMS", server.url)
    yield
    mp.undo()


@pytest.fixture
def session(server, sdk_env) -> botocore.session.Session:
    s = botocore.session.Session()
    s.set_credentials(server.access_key_id, server.secret_access_key)
    s.set_config_variable("region", "us-east-1")
    return s


@pytest.fixture(scope="module")
def key_arn(kms) -> str:
    return kms.create_key(Description="encryption sdk")["KeyMetadata"]["Arn"]


@pytest.fixture
def sdk():
    return aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )


def strict(session, *arns):
    return aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
        key_ids=list(arns), botocore_session=session
    )


def test_a_message_round_trips_through_a_keystead_key(sdk, session, key_arn):
    provider = strict(session, key_arn)
    plaintext = os.urandom(1000) + b"contact form message"
    ciphertext, enc_header = sdk.encrypt(
        source=plaintext, key_provider=provider, encryption_context=CONTEXT
    )
    assert plaintext not in ciphertext
    [edk] = list(enc_header.encrypted_data_keys)
    assert edk.key_provider.provider_id == "aws-kms"
    assert edk.key_provider.key_info.decode() == key_arn

    decrypted, dec_header = sdk.decrypt(source=ciphertext, key_provider=strict(session, key_arn))
    assert decrypted == plaintext
    for k, v in CONTEXT.items():
        assert dec_header.encryption_context[k] == v


def test_the_data_key_is_bound_to_the_message_encryption_context(sdk, session, key_arn, kms):
    ciphertext, header = sdk.encrypt(
        source=b"bound", key_provider=strict(session, key_arn), encryption_context=CONTEXT
    )
    [edk] = list(header.encrypted_data_keys)
    # The SDK passed its whole context (ours plus its public signing key) to GenerateDataKey;
    # keystead must require exactly that context to decrypt the data key.
    full_context = dict(header.encryption_context)
    assert "aws-crypto-public-key" in full_context
    out = kms.decrypt(CiphertextBlob=edk.encrypted_data_key, EncryptionContext=full_context)
    assert out["KeyId"] == key_arn
    assert len(out["Plaintext"]) == 32
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=edk.encrypted_data_key)
    altered = dict(full_context, table="other")
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=edk.encrypted_data_key, EncryptionContext=altered)


def test_a_message_encrypted_under_two_keys_decrypts_with_either(sdk, session, key_arn, kms):
    other = kms.create_key(Description="second")["KeyMetadata"]["Arn"]
    ciphertext, header = sdk.encrypt(
        source=b"two keys", key_provider=strict(session, key_arn, other)
    )
    assert len(header.encrypted_data_keys) == 2
    for arn in (key_arn, other):
        assert sdk.decrypt(source=ciphertext, key_provider=strict(session, arn))[0] == b"two keys"


def test_a_discovery_provider_decrypts_with_an_account_filter(sdk, session, key_arn, server):
    ciphertext, _ = sdk.encrypt(source=b"discover me", key_provider=strict(session, key_arn))
    provider = aws_encryption_sdk.DiscoveryAwsKmsMasterKeyProvider(
        botocore_session=session,
        discovery_filter=DiscoveryFilter(account_ids=[server.account_id], partition="aws"),
    )
    assert sdk.decrypt(source=ciphertext, key_provider=provider)[0] == b"discover me"


def test_a_large_framed_message_streams(sdk, session, key_arn):
    plaintext = os.urandom(512 * 1024 + 17)
    ciphertext, _ = sdk.encrypt(
        source=plaintext, key_provider=strict(session, key_arn), frame_length=4096
    )
    assert sdk.decrypt(source=ciphertext, key_provider=strict(session, key_arn))[0] == plaintext


def test_decrypting_with_a_provider_for_another_key_fails(sdk, session, key_arn, kms):
    other = kms.create_key()["KeyMetadata"]["Arn"]
    ciphertext, _ = sdk.encrypt(source=b"not yours", key_provider=strict(session, key_arn))
    with pytest.raises(AWSEncryptionSDKClientError):
        sdk.decrypt(source=ciphertext, key_provider=strict(session, other))


def test_a_tampered_message_does_not_decrypt(sdk, session, key_arn):
    ciphertext, _ = sdk.encrypt(
        source=b"x" * 100, key_provider=strict(session, key_arn), encryption_context=CONTEXT
    )
    tampered = bytearray(ciphertext)
    tampered[len(tampered) // 2] ^= 0x01
    with pytest.raises(AWSEncryptionSDKClientError):
        sdk.decrypt(source=bytes(tampered), key_provider=strict(session, key_arn))


def test_a_disabled_key_cannot_encrypt_or_decrypt(sdk, session, kms):
    md = kms.create_key()["KeyMetadata"]
    ciphertext, _ = sdk.encrypt(source=b"soon disabled", key_provider=strict(session, md["Arn"]))
    kms.disable_key(KeyId=md["KeyId"])
    with pytest.raises(AWSEncryptionSDKClientError):
        sdk.encrypt(source=b"x", key_provider=strict(session, md["Arn"]))
    with pytest.raises(AWSEncryptionSDKClientError):
        sdk.decrypt(source=ciphertext, key_provider=strict(session, md["Arn"]))
    kms.enable_key(KeyId=md["KeyId"])
    assert sdk.decrypt(source=ciphertext, key_provider=strict(session, md["Arn"]))[0] == (
        b"soon disabled"
    )
