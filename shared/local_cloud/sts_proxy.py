"""STS where the SageMaker SDK looks for it: ``https://sts.<region>.amazonaws.com``.

``sagemaker.core`` builds its STS client with an explicit
``endpoint_url=sts_regional_endpoint(region)`` (in ``Session.default_bucket()``,
``account_id()`` and ``get_caller_identity_arn()``, so ``get_execution_role()``): the https
URL of STS's public hostname, from botocore's endpoint data loaded without ``AWS_DATA_PATH``.
An explicit endpoint URL wins over ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_STS``, so a
``Session()`` on the local cloud reached the real STS and failed offline.

The only setting botocore still honours for such a client is its proxy. So the local cloud
runs an HTTPS proxy on 127.0.0.1 and exports ``HTTPS_PROXY`` (botocore reads it from the
environment) and ``AWS_CA_BUNDLE``:

- ``CONNECT sts[.<region>].amazonaws.com:443``: the proxy ends the TLS itself, with a
  certificate for that host signed by a certificate authority it made at start (the one
  ``AWS_CA_BUNDLE`` adds to the usual ones), and hands the requests to the local cloud, which
  answers them as STS (moto routes by the Host header);
- any other ``CONNECT``: an ordinary tunnel to the host asked for, so tools that share the
  environment (pip, the SDK's telemetry) behave as they would without the local cloud;
- plain-HTTP requests never come here (``HTTPS_PROXY`` covers https URLs; the local cloud is
  http on 127.0.0.1).

Why a proxy, and nothing narrower (checked against sagemaker 3.27 / sagemaker-core 2.27,
``sagemaker/core/helper/session_helper.py``: ``account_id``, ``get_caller_identity_arn``,
``generate_default_sagemaker_bucket_name``):

- ``AWS_ENDPOINT_URL_STS`` / ``AWS_ENDPOINT_URL`` / a config file's ``services`` section: botocore
  uses them only when a client is built without ``endpoint_url``; the SDK always passes one;
- ``AWS_DATA_PATH``: ``botocore_resolver()`` builds its loader with ``create_loader()``, which
  ignores it; the loader's other search path, ``~/.aws/models``, would change every botocore
  program of the user and could still only name a host reached by https on port 443;
- ``AWS_STS_REGIONAL_ENDPOINTS`` picks between public STS hosts only;
- patching the SDK (or botocore) in the user's process is not the local cloud's to do: the
  user's notebook or script is a separate process that only reads the environment.

What that costs, and is documented (README, "Standalone SageMaker jobs"): every https
connection of a process with this environment goes through the proxy (other hosts are tunnelled
untouched, so they work, but a corporate proxy is bypassed), and a lowercase ``https_proxy`` in
the environment wins over ``HTTPS_PROXY`` (``urllib.request.getproxies``), so with one set the
SDK's STS call goes past the local cloud.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import select
import shutil
import socket
import socketserver
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
STS_HOST = re.compile(r"^sts(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$")
_HEADER_LIMIT = 64 * 1024
_IDLE_SECONDS = 120.0
_CONNECT_TIMEOUT = 10.0


def is_sts_host(host: str) -> bool:
    return bool(STS_HOST.match(host.lower()))


@dataclass
class _Authority:
    """A certificate authority made at start, and the leaf certificates it signs per host."""

    directory: Path
    _key: Any = None
    _cert: Any = None
    _contexts: dict[str, ssl.SSLContext] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self) -> Path:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dualloop local cloud CA")])
        now = dt.datetime.now(dt.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        ca_pem = self._cert.public_bytes(serialization.Encoding.PEM)
        bundle = self.directory / "ca-bundle.pem"
        # The usual authorities too: the bundle replaces botocore's default for every https call.
        bundle.write_bytes(_default_authorities() + b"\n" + ca_pem)
        return bundle

    def context_for(self, host: str) -> ssl.SSLContext:
        with self._lock:
            context = self._contexts.get(host)
            if context is None:
                context = self._contexts[host] = self._leaf_context(host)
            return context

    def _leaf_context(self, host: str) -> ssl.SSLContext:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        cert_path = self.directory / f"{host}.pem"
        cert_path.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        cert_path.chmod(0o600)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path)
        return context


def _default_authorities() -> bytes:
    try:
        import certifi

        return Path(certifi.where()).read_bytes()
    except (ImportError, OSError):
        return b""


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: tuple[str, int], authority: _Authority) -> None:
        super().__init__((LOOPBACK, 0), _ProxyHandler)
        self.upstream = upstream
        self.authority = authority


class _ProxyHandler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        client: socket.socket = self.request
        client.settimeout(_IDLE_SECONDS)
        head = _read_head(client)
        if head is None:
            return
        method, _, rest = head.partition(" ")
        target = rest.split(" ", 1)[0]
        if method != "CONNECT":
            client.sendall(
                b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        host, _, port_text = target.rpartition(":")
        port = int(port_text or 443)
        if is_sts_host(host) and port == 443:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            try:
                tls = self.server.authority.context_for(host).wrap_socket(client, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                LOG.warning("TLS with a client of %s failed: %s", host, exc)
                return
            with socket.create_connection(self.server.upstream, timeout=_CONNECT_TIMEOUT) as upstream:
                _pump(tls, upstream)
            return
        try:
            remote = socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT)
        except OSError as exc:
            message = f"cannot reach {host}:{port}: {exc}".encode()
            client.sendall(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                % (len(message), message)
            )
            return
        with remote:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _pump(client, remote)


def _read_head(sock: socket.socket) -> str | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk or len(data) > _HEADER_LIMIT:
            return None
        data += chunk
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def _pump(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes (one thread: an SSLSocket must not be
    read and written from two threads at once)."""
    peer = {a: b, b: a}
    try:
        while True:
            ready: list[socket.socket] = [s for s in (a, b) if isinstance(s, ssl.SSLSocket) and s.pending()]
            if not ready:
                ready, _, _ = select.select([a, b], [], [], _IDLE_SECONDS)
                if not ready:
                    return
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                peer[sock].sendall(data)
    except (OSError, ssl.SSLError):
        return


@dataclass
class StsProxy:
    """Start with ``start()``; ``env()`` is what SDK processes need; ``stop()`` cleans up."""

    upstream_port: int
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dualloop-sts-proxy-")))
    port: int = 0
    _server: _Server | None = None
    _bundle: Path | None = None

    def start(self) -> StsProxy:
        authority = _Authority(self.directory)
        self._bundle = authority.create()
        self._server = _Server((LOOPBACK, self.upstream_port), authority)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, name="local-cloud-sts-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def env(self) -> dict[str, str]:
        return {"HTTPS_PROXY": f"http://{LOOPBACK}:{self.port}", "AWS_CA_BUNDLE": str(self._bundle)}
