//! What bench sends and what a correct answer is: the [`Operation`]s, the request body each
//! sends (built once, before the run), and the check every response must pass.
//!
//! Adding an operation means a variant, its target, its setup in [`Workload::prepare`] and its
//! [`Expect`]ation. Nothing here opens connections or counts anything.

use std::borrow::Cow;
use std::fmt;

use anyhow::Context;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::ValueEnum;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::client::{Call, Client, Connection, Response};

/// The size of the data keys generate-data-key asks for (`KeySpec: AES_256`), in bytes.
const DATA_KEY_BYTES: usize = 32;

/// What every request of a run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Operation {
    /// KMS Encrypt of --plaintext-bytes bytes.
    Encrypt,
    /// KMS Decrypt of a ciphertext of --plaintext-bytes bytes, made once before the run.
    Decrypt,
    /// KMS GenerateDataKey of an AES-256 key.
    GenerateDataKey,
    /// Secrets Manager GetSecretValue of a --plaintext-bytes secret string encrypted under the
    /// key, created once before the run.
    GetSecretValue,
}

impl Operation {
    /// The name on the command line and in reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Operation::Encrypt => "encrypt",
            Operation::Decrypt => "decrypt",
            Operation::GenerateDataKey => "generate-data-key",
            Operation::GetSecretValue => "get-secret-value",
        }
    }

    /// Whether --plaintext-bytes applies.
    pub(crate) fn uses_plaintext(self) -> bool {
        match self {
            Operation::Encrypt | Operation::Decrypt | Operation::GetSecretValue => true,
            Operation::GenerateDataKey => false,
        }
    }

    fn target(self) -> &'static str {
        match self {
            Operation::Encrypt => "TrentService.Encrypt",
            Operation::Decrypt => "TrentService.Decrypt",
            Operation::GenerateDataKey => "TrentService.GenerateDataKey",
            Operation::GetSecretValue => "secretsmanager.GetSecretValue",
        }
    }
}

/// What a correct response shows, beyond status 200 and a JSON object.
///
/// Ciphertexts are not decoded: a bench cannot check them beyond their shape (decrypt checks
/// the round trip), and decoding 4 KiB of base64 per response was a tenth of the client's CPU.
/// Their shape is checked instead: base64-sized, and at least as long as the base64 of what
/// they encrypt.
enum Expect {
    /// A `CiphertextBlob` at least this many base64 characters long.
    Ciphertext { min_base64_len: usize },
    /// A `Plaintext` equal to `expected`. Compared as text with its canonical base64 first,
    /// decoding only when the text differs.
    Plaintext {
        expected: Vec<u8>,
        expected_base64: String,
    },
    /// A `Plaintext` of [`DATA_KEY_BYTES`] bytes and a `CiphertextBlob`.
    DataKey,
    /// A `SecretString` equal to the one stored.
    SecretString { expected: String },
}

/// Why a response failed validation. Displayed, it names the kind of failure for the report.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// A status other than 200, with the AWS error code when the body has one.
    Status {
        /// The HTTP status.
        status: u16,
        /// The AWS error code.
        code: Option<String>,
    },
    /// The body is not the JSON object expected.
    Json,
    /// A field is missing.
    Missing(&'static str),
    /// A field is not valid base64, or is empty.
    NotBase64(&'static str),
    /// A ciphertext is too short to hold what it encrypts.
    TooShort(&'static str),
    /// Decrypt returned other bytes than were encrypted.
    PlaintextMismatch,
    /// A data key of the wrong length.
    DataKeyLength(usize),
    /// GetSecretValue returned another string than was stored.
    SecretMismatch,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Status { status, code } => match code {
                Some(code) => write!(f, "HTTP {status} {code}"),
                None => write!(f, "HTTP {status}"),
            },
            Invalid::Json => f.write_str("response is not the expected JSON"),
            Invalid::Missing(field) => write!(f, "response has no {field}"),
            Invalid::NotBase64(field) => write!(f, "response {field} is empty or not base64"),
            Invalid::TooShort(field) => write!(f, "response {field} is too short"),
            Invalid::PlaintextMismatch => f.write_str("Plaintext differs from what was encrypted"),
            Invalid::DataKeyLength(n) => {
                write!(f, "data key Plaintext is {n} bytes, not {DATA_KEY_BYTES}")
            }
            Invalid::SecretMismatch => f.write_str("SecretString differs from what was stored"),
        }
    }
}

/// The fields bench checks, borrowed from the body where it can.
#[derive(Deserialize)]
struct Output<'a> {
    #[serde(rename = "CiphertextBlob", borrow, default)]
    ciphertext_blob: Option<Cow<'a, str>>,
    #[serde(rename = "Plaintext", borrow, default)]
    plaintext: Option<Cow<'a, str>>,
    #[serde(rename = "SecretString", borrow, default)]
    secret_string: Option<Cow<'a, str>>,
}

/// The request every worker sends, and the check of its response.
pub(crate) struct Workload {
    call: Call,
    expect: Expect,
}

impl Workload {
    /// Builds the request of `operation` under `key_id` with a `plaintext_bytes`-byte plaintext;
    /// decrypt first encrypts that plaintext once over `connection`.
    pub(crate) async fn prepare(
        operation: Operation,
        key_id: &str,
        plaintext_bytes: usize,
        client: &Client,
        connection: &mut Connection,
    ) -> anyhow::Result<Self> {
        let plaintext = sample_plaintext(plaintext_bytes);
        let encrypt_body = json!({ "KeyId": key_id, "Plaintext": STANDARD.encode(&plaintext) });
        let (body, expect) = match operation {
            Operation::Encrypt => (
                encrypt_body,
                Expect::Ciphertext {
                    min_base64_len: base64_len(plaintext_bytes),
                },
            ),
            Operation::Decrypt => {
                let encrypt = client.call(Operation::Encrypt.target(), to_vec(&encrypt_body)?)?;
                let response = client
                    .send_expecting_ok(connection, &encrypt)
                    .await
                    .context("encrypting the plaintext to decrypt")?;
                let ciphertext = serde_json::from_slice::<Output<'_>>(&response)
                    .ok()
                    .and_then(|out| out.ciphertext_blob)
                    .context("the Encrypt response has no CiphertextBlob")?;
                let body = json!({ "KeyId": key_id, "CiphertextBlob": ciphertext });
                let expected_base64 = STANDARD.encode(&plaintext);
                let expect = Expect::Plaintext {
                    expected: plaintext,
                    expected_base64,
                };
                (body, expect)
            }
            Operation::GenerateDataKey => (
                json!({ "KeyId": key_id, "KeySpec": "AES_256" }),
                Expect::DataKey,
            ),
            Operation::GetSecretValue => {
                // Printable text of the asked length, from the same bytes as the plaintexts.
                let mut secret = STANDARD.encode(&plaintext);
                secret.truncate(plaintext_bytes);
                let name = format!("keystead-bench/{}", sample_suffix());
                let create = json!({ "Name": name, "KmsKeyId": key_id, "SecretString": secret });
                let create = client.call("secretsmanager.CreateSecret", to_vec(&create)?)?;
                let response = client
                    .send_expecting_ok(connection, &create)
                    .await
                    .context("creating the secret to read")?;
                let arn = serde_json::from_slice::<serde_json::Value>(&response)
                    .ok()
                    .and_then(|v| v.get("ARN").and_then(|a| a.as_str()).map(str::to_owned))
                    .context("the CreateSecret response has no ARN")?;
                (
                    json!({ "SecretId": arn }),
                    Expect::SecretString { expected: secret },
                )
            }
        };
        let call = client.call(operation.target(), to_vec(&body)?)?;
        Ok(Workload { call, expect })
    }

    /// The request to send.
    pub(crate) fn call(&self) -> &Call {
        &self.call
    }

    /// Checks a response: status 200, a JSON body, and the fields of the operation.
    pub(crate) fn check(&self, response: &Response) -> Result<(), Invalid> {
        if response.status != StatusCode::OK {
            return Err(Invalid::Status {
                status: response.status.as_u16(),
                code: response.error_code(),
            });
        }
        // A struct also deserializes from a JSON array; AWS JSON output is always an object.
        if response.body.trim_ascii_start().first() != Some(&b'{') {
            return Err(Invalid::Json);
        }
        let output: Output<'_> =
            serde_json::from_slice(&response.body).map_err(|_| Invalid::Json)?;
        match &self.expect {
            Expect::Ciphertext { min_base64_len } => {
                ciphertext_shaped(output.ciphertext_blob.as_deref(), *min_base64_len)?;
            }
            Expect::Plaintext {
                expected,
                expected_base64,
            } => {
                let text = output.plaintext.as_deref();
                if text != Some(expected_base64.as_str()) {
                    let plaintext = nonempty_base64(text, "Plaintext")?;
                    if *plaintext != *expected {
                        return Err(Invalid::PlaintextMismatch);
                    }
                }
            }
            Expect::SecretString { expected } => {
                let text = output
                    .secret_string
                    .as_deref()
                    .ok_or(Invalid::Missing("SecretString"))?;
                if text != expected {
                    return Err(Invalid::SecretMismatch);
                }
            }
            Expect::DataKey => {
                let key = nonempty_base64(output.plaintext.as_deref(), "Plaintext")?;
                if key.len() != DATA_KEY_BYTES {
                    return Err(Invalid::DataKeyLength(key.len()));
                }
                ciphertext_shaped(
                    output.ciphertext_blob.as_deref(),
                    base64_len(DATA_KEY_BYTES),
                )?;
            }
        }
        Ok(())
    }
}

/// Creates a symmetric encryption key for the run and returns its id.
pub(crate) async fn create_key(
    client: &Client,
    connection: &mut Connection,
) -> anyhow::Result<String> {
    let body = json!({ "Description": "keystead bench" });
    let call = client.call("TrentService.CreateKey", to_vec(&body)?)?;
    let response = client.send_expecting_ok(connection, &call).await?;
    let value: serde_json::Value =
        serde_json::from_slice(&response).context("the CreateKey response is not JSON")?;
    value
        .pointer("/KeyMetadata/KeyId")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .context("the CreateKey response has no KeyMetadata.KeyId")
}

fn to_vec(body: &serde_json::Value) -> anyhow::Result<Vec<u8>> {
    serde_json::to_vec(body).context("serializing a request body")
}

/// Decodes a base64 field that must be present and non-empty. Zeroized on drop: it may be a
/// data key.
fn nonempty_base64(field: Option<&str>, name: &'static str) -> Result<Zeroizing<Vec<u8>>, Invalid> {
    let text = field.ok_or(Invalid::Missing(name))?;
    let bytes = Zeroizing::new(
        STANDARD
            .decode(text)
            .map_err(|_| Invalid::NotBase64(name))?,
    );
    if bytes.is_empty() {
        return Err(Invalid::NotBase64(name));
    }
    Ok(bytes)
}

/// Checks that a `CiphertextBlob` is present, base64-sized (a non-zero multiple of 4
/// characters) and at least `min_len` characters long.
fn ciphertext_shaped(field: Option<&str>, min_len: usize) -> Result<(), Invalid> {
    const NAME: &str = "CiphertextBlob";
    let text = field.ok_or(Invalid::Missing(NAME))?;
    if text.is_empty() || text.len() % 4 != 0 {
        return Err(Invalid::NotBase64(NAME));
    }
    if text.len() < min_len {
        return Err(Invalid::TooShort(NAME));
    }
    Ok(())
}

/// The length of the padded base64 of `bytes` bytes.
fn base64_len(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}

/// A name suffix unique to this run: the time in nanoseconds and the process id.
fn sample_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}-{:x}", std::process::id())
}

/// `len` bytes that look random (xorshift64*), the same every run: compressible plaintext would
/// flatter nothing here, but fixed bytes make runs comparable.
fn sample_plaintext(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn workload(expect: Expect) -> Workload {
        Workload {
            call: Call::for_tests(),
            expect,
        }
    }

    fn ok(body: &str) -> Response {
        Response {
            status: StatusCode::OK,
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn sample_plaintext_has_the_asked_length_and_is_not_constant() {
        for len in [1, 7, 8, 4096] {
            assert_eq!(sample_plaintext(len).len(), len);
        }
        let p = sample_plaintext(64);
        assert!(p.iter().any(|b| *b != p[0]));
    }

    #[test]
    fn encrypt_needs_a_ciphertext_blob() {
        let w = workload(Expect::Ciphertext { min_base64_len: 4 });
        assert_eq!(
            w.check(&ok(r#"{"CiphertextBlob":"AQID","KeyId":"k"}"#)),
            Ok(())
        );
        assert_eq!(
            w.check(&ok(r#"{"CiphertextBlob":""}"#)),
            Err(Invalid::NotBase64("CiphertextBlob"))
        );
        let w8 = workload(Expect::Ciphertext { min_base64_len: 8 });
        assert_eq!(
            w8.check(&ok(r#"{"CiphertextBlob":"AQID"}"#)),
            Err(Invalid::TooShort("CiphertextBlob"))
        );
        assert_eq!(
            w.check(&ok(r#"{"KeyId":"k"}"#)),
            Err(Invalid::Missing("CiphertextBlob"))
        );
        assert_eq!(
            w.check(&ok(r#"{"CiphertextBlob":"!!"}"#)),
            Err(Invalid::NotBase64("CiphertextBlob"))
        );
        assert_eq!(w.check(&ok("not json")), Err(Invalid::Json));
        assert_eq!(w.check(&ok(r#"["AQID"]"#)), Err(Invalid::Json));
        assert_eq!(
            w.check(&ok(r#"{"CiphertextBlob":"AQID"} x"#)),
            Err(Invalid::Json)
        );
    }

    #[test]
    fn decrypt_needs_the_encrypted_plaintext_back() {
        let w = workload(Expect::Plaintext {
            expected: vec![1, 2, 3],
            expected_base64: "AQID".to_owned(),
        });
        assert_eq!(w.check(&ok(r#"{"Plaintext":"AQID"}"#)), Ok(()));
        // Escaped JSON is unescaped before comparing.
        assert_eq!(w.check(&ok(r#"{"Plaintext":"\u0041QID"}"#)), Ok(()));
        assert_eq!(
            w.check(&ok(r#"{"KeyId":"k"}"#)),
            Err(Invalid::Missing("Plaintext"))
        );
        assert_eq!(
            w.check(&ok(r#"{"Plaintext":"AQIE"}"#)),
            Err(Invalid::PlaintextMismatch)
        );
    }

    #[test]
    fn generate_data_key_needs_32_bytes_and_a_ciphertext() {
        let w = workload(Expect::DataKey);
        let key = STANDARD.encode([7u8; 32]);
        let blob = STANDARD.encode([9u8; 60]);
        let good = format!(r#"{{"Plaintext":"{key}","CiphertextBlob":"{blob}"}}"#);
        assert_eq!(w.check(&ok(&good)), Ok(()));
        let short_blob = format!(r#"{{"Plaintext":"{key}","CiphertextBlob":"AQID"}}"#);
        assert_eq!(
            w.check(&ok(&short_blob)),
            Err(Invalid::TooShort("CiphertextBlob"))
        );
        let short = format!(
            r#"{{"Plaintext":"{}","CiphertextBlob":"{blob}"}}"#,
            STANDARD.encode([7u8; 16])
        );
        assert_eq!(w.check(&ok(&short)), Err(Invalid::DataKeyLength(16)));
        let no_blob = format!(r#"{{"Plaintext":"{key}"}}"#);
        assert_eq!(
            w.check(&ok(&no_blob)),
            Err(Invalid::Missing("CiphertextBlob"))
        );
    }

    #[test]
    fn get_secret_value_needs_the_stored_string_back() {
        let w = workload(Expect::SecretString {
            expected: "s3cr3t".to_owned(),
        });
        assert_eq!(w.check(&ok(r#"{"SecretString":"s3cr3t"}"#)), Ok(()));
        assert_eq!(
            w.check(&ok(r#"{"SecretString":"other"}"#)),
            Err(Invalid::SecretMismatch)
        );
        assert_eq!(
            w.check(&ok(r#"{"ARN":"a"}"#)),
            Err(Invalid::Missing("SecretString"))
        );
    }

    #[test]
    fn an_error_status_is_reported_with_its_aws_code() {
        let w = workload(Expect::DataKey);
        let response = Response {
            status: StatusCode::BAD_REQUEST,
            body: Bytes::from_static(
                br#"{"__type":"com.amazonaws.kms#IncompleteSignatureException","message":"m"}"#,
            ),
        };
        let invalid = w.check(&response).expect_err("400 is invalid");
        assert_eq!(invalid.to_string(), "HTTP 400 IncompleteSignatureException");
    }
}
