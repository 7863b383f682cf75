//! keystead-wire's AWS Query protocol (STS, IAM) against botocore itself: request bodies that
//! botocore's `QuerySerializer` produced (captured by `tests/vectors/query/capture.py`) must
//! parse to the values that were sent, and our response and error XML must parse in a real
//! boto3 client (`tests/botocore_query.py`) to the values we wrote, raising the modelled
//! exception for modelled errors.
//!
//! The botocore round trips need the repository's `.venv` (with boto3); without it they print a
//! note and pass, but if the venv exists any difference fails the test.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use keystead_wire::query::XmlWriter;
use keystead_wire::{
    Blob, ErrorType, QueryError, QueryParams, QueryRejection, SensitiveBlob, SensitiveString,
    Timestamp, ToXml, encode_policy_document, iam, parse_query, parse_query_request, sts,
    to_query_empty_response, to_query_response,
};
use serde_json::{Value, json};

/// The policy document in the captured requests (see `capture.py`): characters that need
/// percent-encoding, `+` and `%`, a newline and Latin-1 text.
const POLICY: &str = "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Sid\": \"A+B & C=D 100%\",\n \
                      \"Effect\": \"Allow\", \"Action\": [\"kms:Encrypt\", \"kms:Decrypt\"], \
                      \"Resource\": \"arn:aws:kms:*:111122223333:key/*\", \"Condition\": \
                      {\"StringEquals\": {\"aws:PrincipalTag/team\": \"caf\u{e9} \u{ff}\"}}}]}";

fn fixture(name: &str) -> QueryParams {
    let path = format!(
        "{}/tests/vectors/query/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    QueryParams::parse(&body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn params(body: &str) -> QueryParams {
    QueryParams::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"))
}

/// The rejection of `body` as a `T`, which must have `code`.
fn rejection<T: keystead_wire::FromQuery + keystead_wire::Validate + Default>(
    body: &str,
    code: &str,
) -> QueryError {
    match parse_query_request::<T>(&params(body)) {
        Ok(_) => panic!("{body} was accepted"),
        Err(err) => {
            assert_eq!(err.code, code, "{body}: {}", err.message);
            err
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests botocore sends

#[test]
fn botocore_get_caller_identity_parses() {
    let params = fixture("sts-GetCallerIdentity");
    assert_eq!(
        sts::Operation::from_params(&params),
        Ok(sts::Operation::GetCallerIdentity)
    );
    let _: sts::GetCallerIdentityRequest = parse_query_request(&params).expect("valid");
}

#[test]
fn presigned_get_caller_identity_query_ignores_the_sigv4_parameters() {
    let params = fixture("sts-GetCallerIdentity-presigned-query");
    assert!(params.get("X-Amz-Signature").is_some());
    assert_eq!(
        sts::Operation::from_params(&params),
        Ok(sts::Operation::GetCallerIdentity)
    );
    let _: sts::GetCallerIdentityRequest = parse_query_request(&params).expect("valid");
}

#[test]
fn botocore_assume_role_parses_every_member() {
    let params = fixture("sts-AssumeRole");
    assert_eq!(
        sts::Operation::from_params(&params),
        Ok(sts::Operation::AssumeRole)
    );
    let request: sts::AssumeRoleRequest = parse_query_request(&params).expect("valid");
    assert_eq!(
        request.role_arn.as_deref(),
        Some("arn:aws:iam::111122223333:role/demo")
    );
    assert_eq!(
        request.role_session_name.as_deref(),
        Some("botocore-session")
    );
    let arns: Vec<Option<&str>> = request
        .policy_arns
        .as_deref()
        .expect("present")
        .iter()
        .map(|p| p.arn.as_deref())
        .collect();
    assert_eq!(
        arns,
        [
            Some("arn:aws:iam::111122223333:policy/ReadOnly"),
            Some("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
        ]
    );
    assert_eq!(request.policy.as_deref(), Some(POLICY));
    assert_eq!(request.duration_seconds, Some(3600));
    let tags: Vec<(Option<&str>, Option<&str>)> = request
        .tags
        .as_deref()
        .expect("present")
        .iter()
        .map(|t| (t.key.as_deref(), t.value.as_deref()))
        .collect();
    assert_eq!(
        tags,
        [
            (Some("Project"), Some("Unicorn")),
            (Some("Cost-Center"), Some("12345 / ops & dev"))
        ]
    );
    assert_eq!(
        request.transitive_tag_keys,
        Some(vec!["Project".to_owned(), "Cost-Center".to_owned()])
    );
    assert_eq!(request.external_id.as_deref(), Some("external+id=1"));
    assert_eq!(
        request.serial_number.as_deref(),
        Some("arn:aws:iam::111122223333:mfa/alice")
    );
    assert_eq!(request.token_code.as_deref(), Some("123456"));
    assert_eq!(
        request.source_identity.as_deref(),
        Some("alice@example.com")
    );
    assert_eq!(request.provided_contexts, None);
}

#[test]
fn botocore_empty_lists_parse_as_empty_lists() {
    let request: sts::AssumeRoleRequest =
        parse_query_request(&fixture("sts-AssumeRole-empty-lists")).expect("valid");
    assert_eq!(request.policy_arns, Some(vec![]));
    assert_eq!(request.tags, Some(vec![]));
    assert_eq!(request.transitive_tag_keys, None);
}

#[test]
fn botocore_get_session_token_parses() {
    let params = fixture("sts-GetSessionToken");
    let request: sts::GetSessionTokenRequest = parse_query_request(&params).expect("valid");
    assert_eq!(request.duration_seconds, Some(43200));
    assert_eq!(
        request.serial_number.as_deref(),
        Some("arn:aws:iam::111122223333:mfa/alice")
    );
    assert_eq!(request.token_code.as_deref(), Some("654321"));
}

#[test]
fn botocore_create_user_with_tags_parses() {
    let params = fixture("iam-CreateUser");
    assert_eq!(
        iam::Operation::from_params(&params),
        Ok(iam::Operation::CreateUser)
    );
    let request: iam::CreateUserRequest = parse_query_request(&params).expect("valid");
    assert_eq!(request.user_name.as_deref(), Some("alice"));
    assert_eq!(request.path.as_deref(), Some("/engineering/"));
    assert_eq!(
        request.permissions_boundary.as_deref(),
        Some("arn:aws:iam::111122223333:policy/Boundary")
    );
    let tags = request.tags.expect("present");
    assert_eq!(tags.len(), 2);
    assert_eq!(tags[1].key.as_deref(), Some("email"));
    assert_eq!(tags[1].value.as_deref(), Some("alice+iam@example.com"));
}

#[test]
fn botocore_put_user_policy_document_decodes_exactly() {
    let request: iam::PutUserPolicyRequest =
        parse_query_request(&fixture("iam-PutUserPolicy")).expect("valid");
    assert_eq!(request.user_name.as_deref(), Some("alice"));
    assert_eq!(request.policy_name.as_deref(), Some("kms-use"));
    assert_eq!(request.policy_document.as_deref(), Some(POLICY));
}

#[test]
fn botocore_create_access_key_parses() {
    let request: iam::CreateAccessKeyRequest =
        parse_query_request(&fixture("iam-CreateAccessKey")).expect("valid");
    assert_eq!(request.user_name.as_deref(), Some("alice"));
}

#[test]
fn botocore_list_users_pagination_parses() {
    let request: iam::ListUsersRequest =
        parse_query_request(&fixture("iam-ListUsers")).expect("valid");
    assert_eq!(request.path_prefix.as_deref(), Some("/engineering/"));
    assert_eq!(request.marker.as_deref(), Some("AAE/marker+page=="));
    assert_eq!(request.max_items, Some(25));
}

#[test]
fn botocore_virtual_mfa_device_and_enable_mfa_parse() {
    let request: iam::CreateVirtualMFADeviceRequest =
        parse_query_request(&fixture("iam-CreateVirtualMFADevice")).expect("valid");
    assert_eq!(
        request.virtual_mfa_device_name.as_deref(),
        Some("alice-phone")
    );
    assert_eq!(request.path.as_deref(), Some("/"));
    assert_eq!(
        request.tags.expect("present")[0].key.as_deref(),
        Some("device")
    );

    let request: iam::EnableMFADeviceRequest =
        parse_query_request(&fixture("iam-EnableMFADevice")).expect("valid");
    assert_eq!(request.user_name.as_deref(), Some("alice"));
    assert_eq!(
        request.serial_number.as_deref(),
        Some("arn:aws:iam::111122223333:mfa/alice-phone")
    );
    assert_eq!(request.authentication_code1.as_deref(), Some("123456"));
    assert_eq!(request.authentication_code2.as_deref(), Some("789012"));
}

#[test]
fn botocore_booleans_parse() {
    let request: iam::CreatePolicyVersionRequest =
        parse_query_request(&fixture("iam-CreatePolicyVersion")).expect("valid");
    assert_eq!(request.set_as_default, Some(true));
    assert_eq!(request.policy_document.as_deref(), Some(POLICY));
}

#[test]
fn botocore_maps_of_structures_with_lists_parse() {
    let request: iam::AcquireRoleRequest =
        parse_query_request(&fixture("iam-AcquireRole")).expect("valid");
    assert_eq!(request.template_minor_version, Some(2));
    let values = request.replacement_values.expect("present");
    let keys: Vec<&str> = values.keys().map(String::as_str).collect();
    assert_eq!(keys, ["BucketName", "Region"]);
    assert_eq!(
        values["BucketName"].values,
        Some(vec!["logs".to_owned(), "audit".to_owned()])
    );
    assert_eq!(values["Region"].values, Some(vec!["eu-west-1".to_owned()]));
}

// ---------------------------------------------------------------------------------------------
// Requests keystead must refuse, the way AWS does

#[test]
fn missing_required_member_is_a_validation_error_in_aws_words() {
    let err = rejection::<sts::AssumeRoleRequest>(
        "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fx",
        "ValidationError",
    );
    assert_eq!(err.status, 400);
    assert_eq!(err.error_type, ErrorType::Sender);
    assert_eq!(
        err.message,
        "1 validation error detected: Value null at 'roleSessionName' failed to satisfy \
         constraint: Member must not be null"
    );
}

#[test]
fn constraint_violations_name_the_member_and_echo_plain_values() {
    let err = rejection::<iam::CreateUserRequest>(
        "Action=CreateUser&Version=2010-05-08&UserName=my+user",
        "ValidationError",
    );
    assert_eq!(
        err.message,
        "1 validation error detected: Value 'my user' at 'userName' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
    );
    let err = rejection::<sts::GetSessionTokenRequest>(
        "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=10",
        "ValidationError",
    );
    assert_eq!(
        err.message,
        "1 validation error detected: Value '10' at 'durationSeconds' failed to satisfy \
         constraint: Member must have value greater than or equal to 900"
    );
    let err = rejection::<iam::CreateUserRequest>(
        "Action=CreateUser&Version=2010-05-08&UserName=alice&Tags.member.1.Key=k",
        "ValidationError",
    );
    assert!(
        err.message
            .contains("Value null at 'tags.1.member.value' failed to satisfy constraint"),
        "{}",
        err.message
    );
}

#[test]
fn policy_documents_and_passwords_are_never_echoed() {
    let err = rejection::<iam::PutUserPolicyRequest>(
        "Action=PutUserPolicy&Version=2010-05-08&UserName=a&PolicyName=p\
         &PolicyDocument=%7B%22Sid%22%3A%22%E2%98%83secret%22%7D",
        "ValidationError",
    );
    assert!(!err.message.contains("secret"), "{}", err.message);
    assert!(err.message.contains("'policyDocument'"), "{}", err.message);
    let err = rejection::<iam::CreateLoginProfileRequest>(
        "Action=CreateLoginProfile&Version=2010-05-08&UserName=a&Password=hunter2%01",
        "ValidationError",
    );
    assert_eq!(
        err.message,
        "1 validation error detected: Value at 'password' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"
    );
}

#[test]
fn wrongly_typed_values_are_invalid_parameter_values_without_the_value() {
    let err = rejection::<sts::AssumeRoleRequest>(
        "Action=AssumeRole&Version=2011-06-15&RoleArn=a&RoleSessionName=s&DurationSeconds=1h",
        "InvalidParameterValue",
    );
    assert_eq!(err.status, 400);
    assert_eq!(
        err.message,
        "Invalid value for parameter DurationSeconds: expected an integer"
    );
    let err = rejection::<iam::CreatePolicyVersionRequest>(
        "Action=CreatePolicyVersion&Version=2010-05-08&PolicyArn=a&PolicyDocument=%7B%7D\
         &SetAsDefault=yes",
        "InvalidParameterValue",
    );
    assert!(err.message.contains("SetAsDefault"), "{}", err.message);
}

#[test]
fn list_numbering_must_not_have_gaps() {
    let err = rejection::<sts::AssumeRoleRequest>(
        "Action=AssumeRole&Version=2011-06-15&RoleArn=a&RoleSessionName=s\
         &PolicyArns.member.1.arn=x&PolicyArns.member.3.arn=y",
        "InvalidParameterValue",
    );
    assert!(
        err.message.contains("PolicyArns.member.3"),
        "{}",
        err.message
    );
}

#[test]
fn unknown_parameters_are_ignored() {
    let request: sts::AssumeRoleRequest = parse_query_request(&params(
        "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fx\
         &RoleSessionName=sess&Bogus=1&Tags.member.1.Key=k&Tags.member.1.Value=v\
         &Tags.member.1.Colour=red&Tags.member.x.Key=z&RoleArn.Nested=1",
    ))
    .expect("valid");
    assert_eq!(request.tags.expect("present").len(), 1);
}

#[test]
fn malformed_bodies_and_duplicates_are_rejected_before_parsing() {
    let err = QueryError::from(
        QueryParams::parse(b"Action=GetCallerIdentity&Version=2011-06-15&X=%G0")
            .expect_err("bad escape"),
    );
    assert_eq!((err.code, err.status), ("MalformedQueryString", 404));
    let err = QueryParams::parse(b"Action=AssumeRole&RoleArn=a&RoleArn=b").expect_err("duplicate");
    assert_eq!(
        err,
        QueryRejection::DuplicateParameter {
            name: "RoleArn".to_owned()
        }
    );
}

#[test]
fn unknown_actions_and_versions_are_invalid_actions() {
    let err = sts::Operation::from_params(&params("Action=CreateUser&Version=2011-06-15"))
        .expect_err("not an STS action");
    assert_eq!(err.aws_code(), "InvalidAction");
    assert_eq!(
        err.to_string(),
        "Could not find operation CreateUser for version 2011-06-15"
    );
    let err = iam::Operation::from_params(&params("Action=CreateUser&Version=2011-06-15"))
        .expect_err("wrong version");
    assert_eq!(err.aws_code(), "InvalidAction");
    assert_eq!(
        iam::Operation::from_params(&params("Version=2010-05-08")),
        Err(QueryRejection::MissingAction)
    );
}

#[test]
fn typed_parse_reports_the_rejection() {
    let rejection = parse_query::<sts::AssumeRoleRequest>(&params("Action=AssumeRole"))
        .expect_err("missing members");
    match rejection {
        QueryRejection::Validation(v) => assert_eq!(v.messages().len(), 2),
        other => panic!("{other:?}"),
    }
}

/// Mutations of every fixture (bytes flipped, inserted from the grammar's alphabet, or cut) must
/// parse or be refused, never panic; a crude fuzzer until there is a fuzz target.
#[test]
fn mutated_requests_never_panic() {
    let dir = format!("{}/tests/vectors/query", env!("CARGO_MANIFEST_DIR"));
    let mut bodies: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| std::fs::read(p).expect("readable"))
        .collect();
    bodies.sort();
    let alphabet = b"&=.%+0129AZaz-member.entry.key.value.";
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut outcomes = [0usize; 2];
    for body in &bodies {
        for _ in 0..400 {
            let mut mutated = body.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % (mutated.len() as u64 + 1)) as usize;
                let byte = alphabet[(next() % alphabet.len() as u64) as usize];
                match next() % 4 {
                    0 if at < mutated.len() => mutated[at] = byte,
                    1 => mutated.insert(at, byte),
                    2 => mutated.truncate(at),
                    _ if at < mutated.len() => {
                        mutated.remove(at);
                    }
                    _ => {}
                }
            }
            let Ok(params) = QueryParams::parse(&mutated) else {
                outcomes[1] += 1;
                continue;
            };
            let ok = match params.action() {
                Some("AssumeRole") => parse_query::<sts::AssumeRoleRequest>(&params).is_ok(),
                Some("GetSessionToken") => {
                    parse_query::<sts::GetSessionTokenRequest>(&params).is_ok()
                }
                Some("CreateUser") => parse_query::<iam::CreateUserRequest>(&params).is_ok(),
                Some("AcquireRole") => parse_query::<iam::AcquireRoleRequest>(&params).is_ok(),
                Some("CreatePolicyVersion") => {
                    parse_query::<iam::CreatePolicyVersionRequest>(&params).is_ok()
                }
                _ => parse_query::<iam::PutUserPolicyRequest>(&params).is_ok(),
            };
            outcomes[usize::from(!ok)] += 1;
        }
    }
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

// ---------------------------------------------------------------------------------------------
// Generated tables

#[test]
fn operations_round_trip_through_their_actions() {
    for op in sts::Operation::ALL {
        assert_eq!(sts::Operation::from_action(op.name()), Some(*op));
        assert_eq!(
            op.result_wrapper(),
            Some(format!("{}Result", op.name()).as_str())
        );
    }
    for op in iam::Operation::ALL {
        assert_eq!(iam::Operation::from_action(op.name()), Some(*op));
    }
    assert_eq!(iam::Operation::DeleteUser.result_wrapper(), None);
    assert_eq!(sts::API_VERSION, "2011-06-15");
    assert_eq!(
        iam::XML_NAMESPACE,
        "https://iam.amazonaws.com/doc/2010-05-08/"
    );
}

#[test]
fn error_codes_carry_the_model_code_status_and_type() {
    let e = iam::ErrorCode::NoSuchEntityException;
    assert_eq!(
        (e.as_str(), e.status(), e.error_type()),
        ("NoSuchEntity", 404, ErrorType::Sender)
    );
    let e = iam::ErrorCode::ServiceFailureException;
    assert_eq!(
        (e.as_str(), e.status(), e.error_type()),
        ("ServiceFailure", 500, ErrorType::Receiver)
    );
    let e = iam::ErrorCode::EntityAlreadyExistsException;
    assert_eq!((e.as_str(), e.status()), ("EntityAlreadyExists", 409));
    let e = sts::ErrorCode::RegionDisabledException;
    assert_eq!((e.as_str(), e.status()), ("RegionDisabledException", 403));
    let common = [
        (sts::ErrorCode::InvalidClientTokenId, 403),
        (sts::ErrorCode::SignatureDoesNotMatch, 403),
        (sts::ErrorCode::IncompleteSignature, 400),
        (sts::ErrorCode::MissingAuthenticationToken, 403),
        (sts::ErrorCode::InvalidAction, 400),
        (sts::ErrorCode::MissingAction, 400),
        (sts::ErrorCode::InvalidParameterValue, 400),
        (sts::ErrorCode::MalformedQueryString, 404),
        (sts::ErrorCode::RequestExpired, 400),
        (sts::ErrorCode::AccessDenied, 403),
        (sts::ErrorCode::ExpiredToken, 403),
        (sts::ErrorCode::ValidationError, 400),
    ];
    for (code, status) in common {
        assert_eq!(code.status(), status, "{code:?}");
        assert_eq!(code.error_type(), ErrorType::Sender, "{code:?}");
    }
    assert_eq!(
        sts::ErrorCode::InternalFailure.error_type(),
        ErrorType::Receiver
    );
    for code in iam::ErrorCode::ALL {
        assert_eq!(iam::ErrorCode::from_code(code.as_str()), Some(*code));
        assert_eq!(
            code.error_type() == ErrorType::Receiver,
            code.status() >= 500,
            "{code:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Responses and errors, parsed back by botocore

/// The repository's venv interpreter, or `None` (with a note) if there is none.
fn python() -> Option<PathBuf> {
    // The repository root, canonical: Python looks for the venv's pyvenv.cfg next to the
    // interpreter path it was started with, so `..` through a symlink would lose the venv.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .ok()?;
    let python = root.join(".venv/bin/python");
    if python.exists() {
        Some(python)
    } else {
        eprintln!(
            "note: {} not found; skipping the botocore round trip",
            python.display()
        );
        None
    }
}

/// What boto3 makes of answering `client.<method>(**params)` with `status` and `body`.
fn botocore(service: &str, method: &str, params: Value, status: u16, body: &[u8]) -> Option<Value> {
    let python = python()?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/botocore_query.py");
    let body = String::from_utf8(body.to_vec()).expect("our XML is UTF-8");
    let case = json!({
        "service": service, "method": method, "params": params, "status": status, "body": body,
    });
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("can run the venv python");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(case.to_string().as_bytes())
        .expect("can write to python");
    let output = child.wait_with_output().expect("python finishes");
    assert!(
        output.status.success(),
        "botocore could not handle {body}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).expect("the script prints JSON"))
}

fn response<T: ToXml>(operation: &str, namespace: &str, result: &T) -> Vec<u8> {
    to_query_response(
        operation,
        namespace,
        result,
        "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE",
    )
}

#[test]
fn assume_role_response_parses_in_botocore() {
    let result = sts::AssumeRoleResponse {
        credentials: Some(sts::Credentials {
            access_key_id: Some("ASIAIOSFODNN7EXAMPLE".to_owned()),
            secret_access_key: Some(SensitiveString::from(
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCY+<&>'\"".to_owned(),
            )),
            session_token: Some("FwoGZXIvYXdzEB0aD//+token==".to_owned()),
            expiration: Some(Timestamp::from_epoch_seconds(1_795_867_200)),
        }),
        assumed_role_user: Some(sts::AssumedRoleUser {
            assumed_role_id: Some("AROA3XFRBF535PLBIFPI4:botocore-session".to_owned()),
            arn: Some("arn:aws:sts::111122223333:assumed-role/demo/botocore-session".to_owned()),
        }),
        packed_policy_size: Some(6),
        source_identity: Some("alice@example.com".to_owned()),
        ..Default::default()
    };
    let body = response("AssumeRole", sts::XML_NAMESPACE, &result);
    let params =
        json!({"RoleArn": "arn:aws:iam::111122223333:role/demo", "RoleSessionName": "sess"});
    let Some(parsed) = botocore("sts", "assume_role", params, 200, &body) else {
        return;
    };
    assert_eq!(
        parsed["result"],
        json!({
            "Credentials": {
                "AccessKeyId": "ASIAIOSFODNN7EXAMPLE",
                "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY+<&>'\"",
                "SessionToken": "FwoGZXIvYXdzEB0aD//+token==",
                "Expiration": "2026-11-28T12:00:00.000000Z",
            },
            "AssumedRoleUser": {
                "AssumedRoleId": "AROA3XFRBF535PLBIFPI4:botocore-session",
                "Arn": "arn:aws:sts::111122223333:assumed-role/demo/botocore-session",
            },
            "PackedPolicySize": 6,
            "SourceIdentity": "alice@example.com",
            "RequestId": "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE",
        }),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[test]
fn get_caller_identity_response_parses_in_botocore() {
    let result = sts::GetCallerIdentityResponse {
        user_id: Some("AIDASAMPLEUSERID".to_owned()),
        account: Some("111122223333".to_owned()),
        arn: Some("arn:aws:iam::111122223333:user/alice".to_owned()),
    };
    let body = response("GetCallerIdentity", sts::XML_NAMESPACE, &result);
    let Some(parsed) = botocore("sts", "get_caller_identity", json!({}), 200, &body) else {
        return;
    };
    assert_eq!(
        parsed["result"],
        json!({
            "UserId": "AIDASAMPLEUSERID",
            "Account": "111122223333",
            "Arn": "arn:aws:iam::111122223333:user/alice",
            "RequestId": "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE",
        })
    );
}

#[test]
fn create_access_key_response_parses_in_botocore() {
    let result = iam::CreateAccessKeyResponse {
        access_key: Some(iam::AccessKey {
            user_name: Some("alice".to_owned()),
            access_key_id: Some("AKIAIOSFODNN7EXAMPLE".to_owned()),
            status: Some(iam::StatusType::Active),
            secret_access_key: Some(SensitiveString::from(
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY".to_owned(),
            )),
            create_date: Some(Timestamp(1_795_867_200.5)),
        }),
    };
    let body = response("CreateAccessKey", iam::XML_NAMESPACE, &result);
    let Some(parsed) = botocore(
        "iam",
        "create_access_key",
        json!({"UserName": "alice"}),
        200,
        &body,
    ) else {
        return;
    };
    assert_eq!(
        parsed["result"]["AccessKey"],
        json!({
            "UserName": "alice",
            "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
            "Status": "Active",
            "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
            "CreateDate": "2026-11-28T12:00:00.500000Z",
        })
    );
}

#[test]
fn list_users_response_with_nested_lists_parses_in_botocore() {
    let user = |name: &str, tags: Vec<iam::Tag>| iam::User {
        path: Some("/engineering/".to_owned()),
        user_name: Some(name.to_owned()),
        user_id: Some(format!("AIDA{}", name.to_uppercase())),
        arn: Some(format!("arn:aws:iam::111122223333:user/engineering/{name}")),
        create_date: Some(Timestamp::from_epoch_seconds(1_700_000_000)),
        tags: Some(tags),
        ..Default::default()
    };
    let tag = |k: &str, v: &str| iam::Tag {
        key: Some(k.to_owned()),
        value: Some(v.to_owned()),
    };
    let result = iam::ListUsersResponse {
        users: Some(vec![
            user(
                "alice",
                vec![tag("team", "platform"), tag("on-call", "yes & no")],
            ),
            user("bob", vec![]),
        ]),
        is_truncated: Some(true),
        marker: Some("AAE/next+page==".to_owned()),
    };
    let body = response("ListUsers", iam::XML_NAMESPACE, &result);
    let Some(parsed) = botocore("iam", "list_users", json!({"MaxItems": 2}), 200, &body) else {
        return;
    };
    let users = &parsed["result"]["Users"];
    assert_eq!(users[0]["UserName"], "alice");
    assert_eq!(users[0]["Path"], "/engineering/");
    assert_eq!(users[0]["CreateDate"], "2023-11-14T22:13:20.000000Z");
    assert_eq!(
        users[0]["Tags"],
        json!([{"Key": "team", "Value": "platform"}, {"Key": "on-call", "Value": "yes & no"}])
    );
    assert_eq!(
        users[1]["Arn"],
        "arn:aws:iam::111122223333:user/engineering/bob"
    );
    assert_eq!(users[1]["Tags"], json!([]));
    assert_eq!(parsed["result"]["IsTruncated"], true);
    assert_eq!(parsed["result"]["Marker"], "AAE/next+page==");
}

#[test]
fn virtual_mfa_device_blobs_parse_in_botocore() {
    let seed = b"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP".to_vec();
    let png: Vec<u8> = (0u8..=255).chain([0x89, b'P', b'N', b'G']).collect();
    let result = iam::CreateVirtualMFADeviceResponse {
        virtual_mfa_device: Some(iam::VirtualMFADevice {
            serial_number: Some("arn:aws:iam::111122223333:mfa/alice-phone".to_owned()),
            base32_string_seed: Some(SensitiveBlob::from(seed.clone())),
            qr_code_png: Some(SensitiveBlob::from(png.clone())),
            ..Default::default()
        }),
    };
    let body = response("CreateVirtualMFADevice", iam::XML_NAMESPACE, &result);
    let Some(parsed) = botocore(
        "iam",
        "create_virtual_mfa_device",
        json!({"VirtualMFADeviceName": "alice-phone"}),
        200,
        &body,
    ) else {
        return;
    };
    let device = &parsed["result"]["VirtualMFADevice"];
    let b64 = |bytes: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    assert_eq!(
        device["SerialNumber"],
        "arn:aws:iam::111122223333:mfa/alice-phone"
    );
    assert_eq!(device["Base32StringSeed"], json!({"base64": b64(&seed)}));
    assert_eq!(device["QRCodePNG"], json!({"base64": b64(&png)}));
}

#[test]
fn maps_parse_in_botocore() {
    let result = iam::GetAccountPropertiesResponse {
        properties: Some(
            [
                ("a".to_owned(), "1".to_owned()),
                ("b<".to_owned(), "2&".to_owned()),
            ]
            .into_iter()
            .collect(),
        ),
    };
    let body = response("GetAccountProperties", iam::XML_NAMESPACE, &result);
    let Some(parsed) = botocore("iam", "get_account_properties", json!({}), 200, &body) else {
        return;
    };
    assert_eq!(
        parsed["result"]["Properties"],
        json!({"a": "1", "b<": "2&"})
    );
}

#[test]
fn percent_encoded_policy_documents_decode_in_botocore() {
    let result = iam::GetUserPolicyResponse {
        user_name: Some("alice".to_owned()),
        policy_name: Some("kms-use".to_owned()),
        policy_document: Some(encode_policy_document(POLICY)),
    };
    let body = response("GetUserPolicy", iam::XML_NAMESPACE, &result);
    let Some(parsed) = botocore(
        "iam",
        "get_user_policy",
        json!({"UserName": "alice", "PolicyName": "kms-use"}),
        200,
        &body,
    ) else {
        return;
    };
    // botocore's IAM customization turns the document back into JSON.
    let expected: Value = serde_json::from_str(POLICY).expect("POLICY is JSON");
    assert_eq!(parsed["result"]["PolicyDocument"], expected);
}

#[test]
fn an_operation_without_output_answers_with_only_the_request_id() {
    let body = to_query_empty_response("DeleteUser", iam::XML_NAMESPACE, "req-delete");
    let Some(parsed) = botocore(
        "iam",
        "delete_user",
        json!({"UserName": "alice"}),
        200,
        &body,
    ) else {
        return;
    };
    assert_eq!(parsed["result"], json!({"RequestId": "req-delete"}));
}

#[test]
fn modelled_errors_raise_the_modelled_exception_in_botocore() {
    let error = iam::ErrorCode::NoSuchEntityException
        .with_message("The user with name bob cannot be found.");
    let body = error.to_xml_in(iam::XML_NAMESPACE, "req-404");
    let Some(parsed) = botocore(
        "iam",
        "get_user",
        json!({"UserName": "bob"}),
        error.status,
        &body,
    ) else {
        return;
    };
    assert_eq!(
        parsed["error"],
        json!({
            "class": "NoSuchEntityException",
            "modeled": true,
            "code": "NoSuchEntity",
            "message": "The user with name bob cannot be found.",
            "type": "Sender",
            "status": 404,
            "request_id": "req-404",
        })
    );

    let error = sts::ErrorCode::MalformedPolicyDocumentException
        .with_message("Syntax errors in policy: <\"quoted\"> & more");
    let body = error.to_xml("req-400");
    let params =
        json!({"RoleArn": "arn:aws:iam::111122223333:role/demo", "RoleSessionName": "sess"});
    let Some(parsed) = botocore("sts", "assume_role", params, error.status, &body) else {
        return;
    };
    assert_eq!(parsed["error"]["class"], "MalformedPolicyDocumentException");
    assert_eq!(
        parsed["error"]["message"],
        "Syntax errors in policy: <\"quoted\"> & more"
    );
}

#[test]
fn common_and_validation_errors_parse_in_botocore_with_their_code() {
    let error = sts::ErrorCode::InvalidClientTokenId
        .with_message("The security token included in the request is invalid.");
    let body = error.to_xml_in(sts::XML_NAMESPACE, "req-403");
    let Some(parsed) = botocore("sts", "get_caller_identity", json!({}), error.status, &body)
    else {
        return;
    };
    assert_eq!(parsed["error"]["class"], "ClientError");
    assert_eq!(parsed["error"]["code"], "InvalidClientTokenId");
    assert_eq!(parsed["error"]["status"], 403);

    let error = parse_query_request::<iam::CreateUserRequest>(&params(
        "Action=CreateUser&Version=2010-05-08&UserName=my+user",
    ))
    .expect_err("bad name");
    let body = error.to_xml_in(iam::XML_NAMESPACE, "req-val");
    let Some(parsed) = botocore(
        "iam",
        "create_user",
        json!({"UserName": "alice"}),
        error.status,
        &body,
    ) else {
        return;
    };
    assert_eq!(parsed["error"]["code"], "ValidationError");
    assert_eq!(parsed["error"]["message"], error.message.as_str());
    assert_eq!(parsed["error"]["request_id"], "req-val");
}

#[test]
fn structures_write_members_in_model_order_and_skip_absent_ones() {
    let key = iam::AccessKey {
        user_name: Some("alice".to_owned()),
        access_key_id: Some("AKID".to_owned()),
        status: Some(iam::StatusType::Inactive),
        ..Default::default()
    };
    let mut xml = XmlWriter::new();
    key.write_xml(&mut xml);
    assert_eq!(
        String::from_utf8(xml.into_bytes()).expect("utf-8"),
        "<AccessKeyId>AKID</AccessKeyId><Status>Inactive</Status><UserName>alice</UserName>"
    );
    let blob = Blob::new(vec![0xff, 0x00]);
    let mut xml = XmlWriter::new();
    xml.value("B", &blob);
    assert_eq!(xml.as_bytes(), b"<B>/wA=</B>");
}
