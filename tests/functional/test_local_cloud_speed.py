"""The local cloud's server keeps connections open and stays correct doing so
(``shared/local_cloud/patches/server_speed.py``).

What this proves: boto3 reuses one connection for many calls, across services and after
error responses (HEAD without a body, 4XX with one); concurrent clients each get their own
answers; a large S3 object goes up and down intact (single PUT, multipart, ranged GETs);
request bodies the app does not read, chunked request bodies and pipelined requests do not
shift the next request on the connection; responses without ``Content-Length`` are chunked,
and a response shorter than it declares ends its connection; ``stop()`` ends idle connections.
What it cannot prove: how AWS's own front ends pool connections (irrelevant to behaviour).
"""

from __future__ import annotations

import hashlib
import http.client
import io
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from shared.local_cloud import LocalCloud
from shared.local_cloud.patches import server_speed

# Enough for moto's router to pick S3 (it reads the SigV4 scope; moto checks no signature).
S3_AUTH = (
    "AWS4-HMAC-SHA256 Credential=local/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
)
keep_alive_only = pytest.mark.skipif(
    not server_speed.keep_alive_enabled(),
    reason=f"keep-alive is opt-in ({server_speed.KEEP_ALIVE_ENV}=1): moto's own server is running",
)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class _Connects(logging.Handler):
    """Counts the TCP connections urllib3 opens from this thread (its DEBUG log lines)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.thread = threading.get_ident()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread and record.getMessage().startswith(
            ("Starting new HTTP connection", "Resetting dropped connection")
        ):
            self.count += 1


@pytest.fixture
def connects() -> Iterator[_Connects]:
    logger = logging.getLogger("urllib3.connectionpool")
    handler, level = _Connects(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _raw(cloud: LocalCloud) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(cloud.host, cloud.port, timeout=10)


def _exchange(sock: socket.socket, request: bytes) -> bytes:
    """Send raw bytes; read until the peer closes."""
    sock.sendall(request)
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


# ---- boto3 on one connection -------------------------------------------------------------------
@keep_alive_only
def test_many_sequential_calls_share_one_connection(local_cloud: LocalCloud, connects: _Connects) -> None:
    # GIVEN one client per service and a queue and bucket to talk about
    session = boto3.session.Session()
    sqs, s3 = session.client("sqs"), session.client("s3")
    queue = sqs.create_queue(QueueName=_name("ka"))["QueueUrl"]
    bucket = _name("ka")
    s3.create_bucket(Bucket=bucket)
    connects.count = 0

    # WHEN each makes 100 calls in a row
    for i in range(100):
        sqs.send_message(QueueUrl=queue, MessageBody=f"m{i}")
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=f"v{i}".encode())
        assert s3.get_object(Bucket=bucket, Key=f"k{i}")["Body"].read() == f"v{i}".encode()

    # THEN every answer was right, and the clients never reconnected
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "100"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 100
    assert connects.count == 0


def test_an_error_response_then_a_success_on_the_same_connection(
    local_cloud: LocalCloud, connects: _Connects
) -> None:
    session = boto3.session.Session()
    s3, sm, sqs = session.client("s3"), session.client("sagemaker"), session.client("sqs")
    bucket = _name("errs")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="there", Body=b"hello")
    sm.list_endpoints()
    sqs.list_queues()  # each client has its connection now
    connects.count = 0

    for _ in range(3):
        # HEAD 404: headers only, no body whatever Content-Length says
        with pytest.raises(ClientError) as missing_head:
            s3.head_object(Bucket=bucket, Key="missing")
        assert missing_head.value.response["Error"]["Code"] == "404"
        assert s3.head_object(Bucket=bucket, Key="there")["ContentLength"] == 5
        # GET 404 with an XML body, then the object
        with pytest.raises(ClientError) as missing_get:
            s3.get_object(Bucket=bucket, Key="missing")
        assert missing_get.value.response["Error"]["Code"] == "NoSuchKey"
        assert s3.get_object(Bucket=bucket, Key="there")["Body"].read() == b"hello"
        # JSON and query-protocol errors
        with pytest.raises(ClientError, match="Could not find endpoint"):
            sm.describe_endpoint(EndpointName=_name("nope"))
        assert "Endpoints" in sm.list_endpoints()
        with pytest.raises(ClientError) as missing_queue:
            sqs.get_queue_url(QueueName=_name("nope"))
        assert "NonExistentQueue" in missing_queue.value.response["Error"]["Code"]
        assert "ResponseMetadata" in sqs.list_queues()

    if server_speed.keep_alive_enabled():
        assert connects.count == 0


def test_concurrent_clients_each_get_their_own_answers(local_cloud: LocalCloud) -> None:
    bucket = _name("conc")
    boto3.client("s3").create_bucket(Bucket=bucket)
    queues = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def client(i: int) -> None:
        try:
            session = boto3.session.Session()
            s3, sqs = session.client("s3"), session.client("sqs")
            queues[i] = queue = sqs.create_queue(QueueName=_name(f"conc{i}"))["QueueUrl"]
            start.wait()
            for j in range(40):
                body = os.urandom(64 + 977 * i + j)  # a different size per thread and call
                s3.put_object(Bucket=bucket, Key=f"{i}/{j}", Body=body)
                assert s3.get_object(Bucket=bucket, Key=f"{i}/{j}")["Body"].read() == body
                sqs.send_message(QueueUrl=queue, MessageBody=f"{i}:{j}")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    sqs = boto3.client("sqs")
    for i, queue in queues.items():
        got: set[str] = set()
        while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
            got |= {m["Body"] for m in messages}
            sqs.delete_message_batch(
                QueueUrl=queue,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
            )
        assert got == {f"{i}:{j}" for j in range(40)}


def test_a_large_object_goes_up_and_down_intact(local_cloud: LocalCloud, connects: _Connects) -> None:
    s3 = boto3.session.Session().client("s3")
    bucket = _name("large")
    s3.create_bucket(Bucket=bucket)
    data = os.urandom(24 * 1024 * 1024 + 12345)
    digest = hashlib.sha256(data).hexdigest()

    # one PUT and one GET of the whole object, then a range
    s3.put_object(Bucket=bucket, Key="whole", Body=data)
    assert hashlib.sha256(s3.get_object(Bucket=bucket, Key="whole")["Body"].read()).hexdigest() == digest
    ranged = s3.get_object(Bucket=bucket, Key="whole", Range="bytes=1000-1999")["Body"].read()
    assert ranged == data[1000:2000]

    # multipart up, parallel ranged GETs down (several connections of one pool at once)
    config = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024)
    s3.upload_fileobj(io.BytesIO(data), bucket, "parts", Config=config)
    out = io.BytesIO()
    s3.download_fileobj(bucket, "parts", out, Config=config)
    assert hashlib.sha256(out.getvalue()).hexdigest() == digest

    # and a small call right after, on the same connections
    assert s3.head_object(Bucket=bucket, Key="whole")["ContentLength"] == len(data)


# ---- framing, at the HTTP level ------------------------------------------------------------------
@keep_alive_only
def test_a_chunked_request_body_does_not_shift_the_next_request(local_cloud: LocalCloud) -> None:
    bucket = _name("raw")
    boto3.client("s3").create_bucket(Bucket=bucket)
    conn = _raw(local_cloud)
    headers = {"Authorization": S3_AUTH}

    # a chunked upload: the generator makes http.client send Transfer-Encoding: chunked
    conn.request("PUT", f"/{bucket}/chunked", body=iter([b"hello ", b"chunked ", b"world"]), headers=headers)
    put = conn.getresponse()
    put.read()
    assert put.status == 200, put.status
    conn.request("GET", f"/{bucket}/chunked", headers=headers)
    got = conn.getresponse()
    assert (got.status, got.read()) == (200, b"hello chunked world")
    assert got.getheader("Connection") is None  # still open
    sock = conn.sock
    conn.request("GET", f"/{bucket}/chunked", headers=headers)
    conn.getresponse().read()
    assert conn.sock is sock  # the same TCP connection throughout
    conn.close()


@keep_alive_only
def test_pipelined_requests_are_answered_in_order(local_cloud: LocalCloud) -> None:
    bucket = _name("pipe")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a", Body=b"first")
    s3.put_object(Bucket=bucket, Key="b", Body=b"second")

    def get(key: str, close: bool = False) -> bytes:
        extra = b"Connection: close\r\n" if close else b""
        return (
            f"GET /{bucket}/{key} HTTP/1.1\r\nHost: {local_cloud.host}\r\nAuthorization: {S3_AUTH}\r\n".encode()
            + extra
            + b"\r\n"
        )

    with socket.create_connection((local_cloud.host, local_cloud.port), timeout=10) as sock:
        raw = _exchange(sock, get("a") + get("b") + get("a", close=True))
    # three responses, in order, each framed by its Content-Length; the last one closed
    assert raw.count(b"HTTP/1.1 200") == 3
    bodies = [part.split(b"\r\n\r\n", 1)[1] for part in raw.split(b"HTTP/1.1 200")[1:]]
    assert [b[:6] for b in bodies] == [b"first", b"second", b"first"]
    assert raw.rstrip().endswith(b"first")


def test_an_http_1_0_client_gets_its_answer_and_a_close(local_cloud: LocalCloud) -> None:
    with socket.create_connection((local_cloud.host, local_cloud.port), timeout=10) as sock:
        raw = _exchange(sock, b"GET /moto-api/config HTTP/1.0\r\n\r\n")
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 20")  # moto answers GET /moto-api/config with 201
    assert body.startswith(b"{")


# ---- the handler with tiny apps: framing the local cloud's own apps never exercise --------------
@pytest.fixture
def tiny_server() -> Iterator[tuple[str, int, dict[str, Any]]]:
    routes: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return routes[environ["PATH_INFO"]](environ, start_response)

    server = server_speed.KeepAliveWSGIServer("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.server_address[1], routes
    finally:
        server.shutdown()
        server.end_connections()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("body_size", [0, 10, 300_000])
def test_a_request_body_the_app_does_not_read_is_skipped(
    tiny_server: tuple[str, int, dict[str, Any]], body_size: int
) -> None:
    host, port, routes = tiny_server

    def ignores_body(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    def echoes_body(environ: dict[str, Any], start_response: Any) -> Any:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    routes.update({"/ignore": ignores_body, "/echo": echoes_body})
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("POST", "/ignore", body=b"x" * body_size)
    assert conn.getresponse().read() == b"ok"
    sock = conn.sock
    conn.request("POST", "/echo", body=b"next request")
    assert conn.getresponse().read() == b"next request"
    assert conn.sock is sock
    conn.close()


def test_a_streamed_body_is_chunked_and_a_short_body_ends_the_connection(
    tiny_server: tuple[str, int, dict[str, Any]],
) -> None:
    host, port, routes = tiny_server

    def streamed(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"one ", b"two ", b"three"])

    def short(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Length", "10")])
        return [b"12345"]

    def failing(environ: dict[str, Any], start_response: Any) -> Any:
        raise RuntimeError("boom")

    routes.update({"/streamed": streamed, "/short": short, "/failing": failing})
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/streamed")
    response = conn.getresponse()
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.read() == b"one two three"
    conn.request("GET", "/failing")  # an app error before any output: a 500, connection kept
    failed = conn.getresponse()
    assert failed.status == 500
    failed.read()
    conn.request("GET", "/streamed")
    assert conn.getresponse().read() == b"one two three"
    conn.close()

    with socket.create_connection((host, port), timeout=10) as sock:
        # _exchange returns only because the server closes: 5 bytes of 10 cannot be framed
        raw = _exchange(sock, b"GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.endswith(b"\r\n\r\n12345")


def test_stop_ends_idle_connections() -> None:
    server = server_speed.KeepAliveMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/moto-api/config")
    conn.getresponse().read()
    sock = conn.sock
    assert sock is not None

    server.stop()

    sock.settimeout(5)
    assert sock.recv(1) == b""  # the server ended the idle connection
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=5)
    conn.close()
