"""Feeds keystead's Query responses to a real boto3 client and prints what the client makes of them.

Used by tests/query.rs. Reads one JSON case from stdin:

    {"service": "iam", "method": "get_user", "params": {...}, "status": 404, "body": "<...>"}

calls `client.<method>(**params)` with a `before-send` hook that answers with `status` and
`body` (so botocore's own QueryParser, error handling and IAM customizations run, and nothing
leaves the machine), and prints one JSON object:

    {"result": {...parsed response, datetimes as ISO 8601, bytes as {"base64": ...}}}
    {"error": {"class": "NoSuchEntityException", "modeled": true, "code": ..., "message": ...,
               "type": ..., "status": ..., "request_id": ...}}
"""

import base64
import datetime
import json
import sys

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError


class _Raw:
    def __init__(self, body):
        self._body = body

    def stream(self, **_):
        yield self._body


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def main():
    case = json.load(sys.stdin)
    client = boto3.client(
        case["service"],
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        endpoint_url="http://127.0.0.1:1",
        config=Config(retries={"total_max_attempts": 1}),
    )
    body = case["body"].encode("utf-8")

    def answer(request, **_):
        headers = {"Content-Type": "text/xml", "Content-Length": str(len(body))}
        return AWSResponse(request.url, case["status"], headers, _Raw(body))

    client.meta.events.register("before-send", answer)
    try:
        result = getattr(client, case["method"])(**case.get("params", {}))
    except ClientError as e:
        error = e.response.get("Error", {})
        metadata = e.response.get("ResponseMetadata", {})
        # A modelled error raises its generated subclass (client.exceptions.NoSuchEntityException).
        modeled = type(e) is not ClientError
        print(
            json.dumps(
                {
                    "error": {
                        "class": type(e).__name__,
                        "modeled": modeled,
                        "code": error.get("Code"),
                        "message": error.get("Message"),
                        "type": error.get("Type"),
                        "status": metadata.get("HTTPStatusCode"),
                        "request_id": metadata.get("RequestId"),
                    }
                }
            )
        )
        return
    metadata = result.pop("ResponseMetadata", {})
    result["RequestId"] = metadata.get("RequestId")
    print(json.dumps({"result": _plain(result)}))


if __name__ == "__main__":
    main()
