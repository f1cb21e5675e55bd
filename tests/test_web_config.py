"""``--web.config.file``: the exporter-toolkit web config (TLS, basic auth, headers, rate
limit) against real TLS handshakes on loopback: uvicorn in a thread for the details, the
console script for the whole path. Certificates are generated per test (cryptography)."""

from __future__ import annotations

import base64
import datetime
import http.client
import ipaddress
import json
import logging
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from exporter import web_config
from exporter.errors import ConfigError
from exporter.web_config import (
    CIPHER_SUITES,
    BasicAuthenticator,
    WebConfigError,
    WebConfigMiddleware,
    WebConfigSource,
    parse_basic_authorization,
)

PASSWORD = "correct-horse-PW-4821"
#: Cost 4 keeps the tests fast; the format and the code path are those of cost 10+.
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()


# --------------------------------------------------------------------------- certificates


@dataclass
class Pem:
    cert: bytes
    key: bytes
    der: bytes

    def write(self, directory: Path, name: str) -> tuple[Path, Path]:
        cert, key = directory / f"{name}.crt", directory / f"{name}.key"
        cert.write_bytes(self.cert)
        key.write_bytes(self.key)
        return cert, key


def make_cert(cn: str = "localhost", *, issuer: Pem | None = None, ca: bool = False) -> Pem:
    """A P-256 certificate for 127.0.0.1/localhost, self-signed or signed by ``issuer``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    signer_key: Any = key
    issuer_name = name
    if issuer is not None:
        signer_key = serialization.load_pem_private_key(issuer.key, password=None)
        issuer_name = x509.load_pem_x509_certificate(issuer.cert).subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    cert = builder.sign(signer_key, hashes.SHA256())
    return Pem(
        cert=cert.public_bytes(serialization.Encoding.PEM),
        key=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        der=cert.public_bytes(serialization.Encoding.DER),
    )


@pytest.fixture(scope="module")
def server_pem() -> Pem:
    return make_cert()


def write_web_config(directory: Path, text: str) -> Path:
    path = directory / "web.yml"
    path.write_text(text, encoding="utf-8")
    return path


def touch_later(*paths: Path) -> None:
    """Move the mtimes forward, so a rewrite is seen even on a coarse-clock filesystem."""
    for path in paths:
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


# --------------------------------------------------------------------------- servers, clients


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello 1\n")  # valid exposition text for Prometheus


TEST_APP = Starlette(routes=[Route("/metrics", hello), Route("/-/healthy", hello)])


@contextmanager
def serving(source: WebConfigSource) -> Iterator[int]:
    """uvicorn on a loopback port in a thread, with the middleware and TLS as cli.py wires
    them; yields the port."""
    config = uvicorn.Config(
        WebConfigMiddleware(TEST_APP, source),
        host="127.0.0.1",
        port=0,
        log_config=None,
        lifespan="off",
        **web_config.uvicorn_options(source),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    while thread.is_alive() and not started.wait(0.01):
        if server.started:
            started.set()
    assert server.started, "uvicorn did not start"
    port = int(server.servers[0].sockets[0].getsockname()[1])
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(30)


def client_context(
    server: Pem | None,
    *,
    max_version: ssl.TLSVersion | None = None,
    client: Pem | None = None,
    tmp_path: Path | None = None,
) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if server is not None:
        context.load_verify_locations(cadata=server.cert.decode())
    if max_version is not None:
        context.maximum_version = max_version
    if client is not None:
        assert tmp_path is not None
        cert, key = client.write(tmp_path, "client")
        context.load_cert_chain(cert, key)
    return context


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    tls_version: str | None = None
    peer_der: bytes | None = None
    cipher: str | None = None


def get(
    port: int,
    path: str = "/metrics",
    *,
    context: ssl.SSLContext | None = None,
    auth: tuple[str, str] | None = None,
    authorization: str | None = None,
) -> Reply:
    headers = {}
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    if authorization is not None:
        headers["Authorization"] = authorization
    connection: http.client.HTTPConnection
    if context is not None:
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        reply = Reply(response.status, response.headers, response.read())
        sock = connection.sock
        if isinstance(sock, ssl.SSLSocket):
            reply.tls_version = sock.version()
            reply.peer_der = sock.getpeercert(binary_form=True)
            cipher = sock.cipher()
            reply.cipher = cipher[0] if cipher else None
        return reply
    finally:
        connection.close()


# --------------------------------------------------------------------------- TLS


def test_tls_min_version_tls13_refuses_a_tls12_client(tmp_path: Path, server_pem: Pem) -> None:
    server_pem.write(tmp_path, "server")
    path = write_web_config(
        tmp_path,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  min_version: TLS13\n",
    )
    with serving(WebConfigSource.from_file(path)) as port:
        reply = get(port, context=client_context(server_pem))
        assert reply.status == 200 and reply.body == b"hello 1\n"
        assert reply.tls_version == "TLSv1.3"
        assert reply.peer_der == server_pem.der
        with pytest.raises(ssl.SSLError):
            get(port, context=client_context(server_pem, max_version=ssl.TLSVersion.TLSv1_2))
        # Plain HTTP to a TLS port gets no HTTP answer.
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            get(port)


def test_max_version_and_cipher_suites(tmp_path: Path, server_pem: Pem) -> None:
    server_pem.write(tmp_path, "server")
    path = write_web_config(
        tmp_path,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  max_version: TLS12\n"
        "  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256]\n"
        "  curve_preferences: [CurveP384]\n",
    )
    with serving(WebConfigSource.from_file(path)) as port:
        reply = get(port, context=client_context(server_pem))
    assert reply.status == 200
    assert reply.tls_version == "TLSv1.2"
    assert reply.cipher == "ECDHE-ECDSA-AES256-GCM-SHA384"


def test_every_cipher_suite_name_maps_to_an_openssl_cipher() -> None:
    for go_name, openssl_name in CIPHER_SUITES.items():
        if openssl_name is None:
            assert go_name.startswith("TLS_") and "_WITH_" not in go_name  # TLS 1.3 suites
            continue
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.set_ciphers(openssl_name)  # raises SSLError for an unknown name
        assert openssl_name in {c["name"] for c in context.get_ciphers()}, go_name


def test_inline_cert_and_key(tmp_path: Path, server_pem: Pem) -> None:
    indent = "\n    "
    path = write_web_config(
        tmp_path,
        "tls_server_config:\n"
        f"  cert: |{indent}{indent.join(server_pem.cert.decode().splitlines())}\n"
        f"  key: |{indent}{indent.join(server_pem.key.decode().splitlines())}\n",
    )
    web = web_config.load(path)
    assert server_pem.key.decode().splitlines()[1] not in repr(web)
    with serving(WebConfigSource(web)) as port:
        reply = get(port, context=client_context(server_pem))
    assert reply.status == 200 and reply.peer_der == server_pem.der


def test_client_certificates_required_and_verified(tmp_path: Path, server_pem: Pem) -> None:
    server_pem.write(tmp_path, "server")
    ca = make_cert("scrapers CA", ca=True)
    (tmp_path / "ca.crt").write_bytes(ca.cert)
    signed = make_cert("prometheus", issuer=ca)
    stranger = make_cert("stranger")
    path = write_web_config(
        tmp_path,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n",
    )
    with serving(WebConfigSource.from_file(path)) as port:
        ok = get(port, context=client_context(server_pem, client=signed, tmp_path=tmp_path))
        assert ok.status == 200
        for client in (None, stranger):
            context = client_context(server_pem, client=client, tmp_path=tmp_path)
            # TLS 1.3 reports a refused client certificate on the first read, so the failure
            # is an SSLError or a dropped connection, never an HTTP answer.
            with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
                get(port, context=context)


def test_certificate_rotation_applies_to_new_connections(tmp_path: Path, server_pem: Pem) -> None:
    cert, key = server_pem.write(tmp_path, "server")
    path = write_web_config(
        tmp_path, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
    )
    with serving(WebConfigSource.from_file(path)) as port:
        assert get(port, context=client_context(server_pem)).peer_der == server_pem.der
        renewed = make_cert()
        renewed.write(tmp_path, "server")
        touch_later(cert, key)
        reply = get(port, context=client_context(renewed))
        assert reply.status == 200 and reply.peer_der == renewed.der


# --------------------------------------------------------------------------- basic auth


def test_basic_auth_right_wrong_missing(tmp_path: Path) -> None:
    path = write_web_config(
        tmp_path,
        f"basic_auth_users:\n  prometheus: {HASH}\n  other: {HASH}\n"
        "http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
        "    Content-Security-Policy: ''\n",
    )
    with serving(WebConfigSource.from_file(path)) as port:
        ok = get(port, auth=("prometheus", PASSWORD))
        assert ok.status == 200 and ok.body == b"hello 1\n"
        assert ok.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" not in ok.headers  # blank: unset
        assert get(port, "/-/healthy", auth=("other", PASSWORD)).status == 200
        for auth, authorization in (
            (None, None),
            (("prometheus", "wrong"), None),
            (("nobody", PASSWORD), None),
            (("prometheus", PASSWORD + "x" * 80), None),
            (None, "Bearer abc"),
            (None, "Basic !!!notbase64"),
            (None, "Basic " + base64.b64encode(b"no-colon").decode()),
        ):
            denied = get(port, "/-/healthy", auth=auth, authorization=authorization)
            assert denied.status == 401, (auth, authorization)
            assert denied.headers["WWW-Authenticate"] == "Basic"
            assert denied.headers["X-Content-Type-Options"] == "nosniff"


async def test_successes_are_cached_failures_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    web = web_config.load(write_web_config(tmp_path, f"basic_auth_users:\n  prom: {HASH}\n"))
    calls: list[bytes] = []
    checkpw = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    auth = BasicAuthenticator()

    def header(user: str, password: str) -> bytes:
        return b"Basic " + base64.b64encode(f"{user}:{password}".encode())

    assert await auth.authenticate(web, header("prom", PASSWORD))
    assert await auth.authenticate(web, header("prom", PASSWORD))
    assert len(calls) == 1  # the second success came from the cache
    assert not await auth.authenticate(web, header("prom", "wrong"))
    assert not await auth.authenticate(web, header("prom", "wrong"))
    assert len(calls) == 3  # failures are verified every time
    # An unknown user costs one verification too (against a decoy, not a user's hash).
    assert not await auth.authenticate(web, header("intruder", PASSWORD))
    assert len(calls) == 4 and calls[-1] != HASH.encode()
    # The cache holds keyed digests, never the password.
    assert all(PASSWORD.encode() not in key for key in auth._verified)
    assert PASSWORD not in repr(auth)


def test_parse_basic_authorization() -> None:
    encoded = base64.b64encode(b"user:pa:ss").decode()
    assert parse_basic_authorization(f"basic {encoded}".encode()) == (b"user", b"pa:ss")
    assert parse_basic_authorization(None) is None
    assert parse_basic_authorization(b"Basic") is None


def test_users_and_headers_reload_when_the_file_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_web_config(tmp_path, f"basic_auth_users:\n  prom: {HASH}\n")
    new_hash = bcrypt.hashpw(b"rotated-PW", bcrypt.gensalt(4)).decode()
    with serving(WebConfigSource.from_file(path)) as port:
        assert get(port, auth=("prom", PASSWORD)).status == 200
        path.write_text(
            f"basic_auth_users:\n  prom: {new_hash}\n"
            "http_server_config:\n  headers: {X-Frame-Options: deny}\n"
        )
        touch_later(path)
        assert get(port, auth=("prom", PASSWORD)).status == 401
        rotated = get(port, auth=("prom", "rotated-PW"))
        assert rotated.status == 200 and rotated.headers["X-Frame-Options"] == "deny"
        # A broken edit is logged; the last good file stays in force.
        path.write_text("basic_auth_users:\n  prom: not-a-hash-SECRETISH\n")
        touch_later(path)
        assert get(port, auth=("prom", "rotated-PW")).status == 200
    assert "web config not reloaded" in caplog.text
    assert "not-a-hash-SECRETISH" not in caplog.text


def test_tls_policy_changes_warn_that_they_need_a_restart(
    tmp_path: Path, server_pem: Pem, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="exporter.web_config")
    cert, key = server_pem.write(tmp_path, "server")
    ca = tmp_path / "ca.crt"
    ca.write_bytes(make_cert("CA one", ca=True).cert)
    base = (
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"
    )
    path = write_web_config(tmp_path, base)
    source = WebConfigSource.from_file(path)
    make_cert().write(tmp_path, "server")  # a renewed certificate alone: no warning
    touch_later(cert, key)
    assert source.current().ssl_context is not None
    assert "web config reloaded" in caplog.text and "restart" not in caplog.text
    ca.write_bytes(make_cert("CA two", ca=True).cert)  # same path, new CA
    touch_later(ca)
    source.current()
    assert "apply after a restart" in caplog.text
    caplog.clear()
    path.write_text(base + "  min_version: TLS13\n")
    touch_later(path)
    assert source.current().settings.tls_server_config.min_version == "TLS13"
    assert "apply after a restart" in caplog.text


def test_rate_limit(tmp_path: Path) -> None:
    path = write_web_config(tmp_path, "rate_limit: {interval: 1h, burst: 2}\n")
    with serving(WebConfigSource.from_file(path)) as port:
        assert [get(port).status for _ in range(3)] == [200, 200, 429]


# --------------------------------------------------------------------------- errors


BAD_CONFIGS = [
    ("tls_config: {}\n", "tls_config: unknown key; did you mean 'tls_server_config'?"),
    (
        "tls_server_config: {cert_flie: a.crt, key_file: a.key}\n",
        "tls_server_config.cert_flie: unknown key; did you mean 'cert_file'?",
    ),
    (
        "tls_server_config: {cert_file: server.crt}\n",
        "tls_server_config: TLS needs a private key: set key_file",
    ),
    (
        "tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: TLS14}\n",
        "tls_server_config.min_version: got 'TLS14'",
    ),
    (
        "tls_server_config: {cert_file: server.crt, key_file: server.key,"
        " min_version: TLS13, max_version: TLS12}\n",
        "min_version TLS13 is above max_version TLS12",
    ),
    (
        "tls_server_config: {cert_file: missing.crt, key_file: server.key}\n",
        "tls_server_config.cert_file: cannot read",
    ),
    (
        "tls_server_config: {cert_file: server.crt, key_file: other.key}\n",
        "tls_server_config.cert_file/key_file: cannot use the certificate and key",
    ),
    (
        "tls_server_config: {cert_file: server.crt, key_file: server.key,"
        " client_auth_type: RequireAnyClientCert}\n",
        "unverified client certificates are not supported",
    ),
    (
        "tls_server_config: {cert_file: server.crt, key_file: server.key,"
        " client_auth_type: RequireAndVerifyClientCert}\n",
        "client_auth_type RequireAndVerifyClientCert needs the CA",
    ),
    (
        "tls_server_config: {cert_file: server.crt, key_file: server.key,"
        " client_auth_type: RequireAndVerifyClientCert, client_ca_file: server.crt,"
        " client_allowed_sans: [prometheus]}\n",
        "tls_server_config.client_allowed_sans: not supported",
    ),
    (
        "tls_server_config: {cert_file: server.crt, key_file: server.key,"
        " client_auth_type: RequireAndVerifyClientCert, client_ca_file: server.key}\n",
        "tls_server_config.client_ca_file: cannot use the client CA",
    ),
    (
        "tls_server_config: {cert_file: server.crt, key_file: server.key,"
        " client_ca_file: server.crt}\n",
        "client_auth_type is NoClientCert",
    ),
    (
        "tls_server_config: {cert_file: server.crt, key_file: server.key,"
        " cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]}\n",
        "unknown cipher 'TLS_RSA_WITH_RC4_128_SHA'",
    ),
    (
        "basic_auth_users:\n  prom: $1$plainmd5SECRETISH\n",
        "basic_auth_users: user 'prom': the value is not a bcrypt hash (not shown)",
    ),
    (
        "http_server_config: {headers: {X-Powered-By: me}}\n",
        "header 'X-Powered-By' cannot be configured",
    ),
    (
        "http_server_config: {headers: {X-Frame-Options: allow}}\n",
        "X-Frame-Options: got 'allow'; expected one of: deny, sameorigin",
    ),
    (
        'http_server_config: {headers: {Content-Security-Policy: "a\\r\\nSet-Cookie: x"}}\n',
        "Content-Security-Policy: expected printable ASCII on one line",
    ),
    ("rate_limit: {interval: 1s}\n", "burst must be at least 1"),
    ("rate_limit: {interval: fast, burst: 1}\n", "expected a Go duration"),
    ("basic_auth_users: [prom]\n", "basic_auth_users: Input should be a valid dictionary"),
    ("tls_server_config: [\n", "web.yml: expected"),
    ("- just a list\n", "expected a mapping at the top level"),
]


@pytest.mark.parametrize(("text", "message"), BAD_CONFIGS, ids=[m for _, m in BAD_CONFIGS])
def test_bad_files_give_readable_errors(
    tmp_path: Path, server_pem: Pem, text: str, message: str
) -> None:
    server_pem.write(tmp_path, "server")
    make_cert().write(tmp_path, "other")
    path = write_web_config(tmp_path, text)
    with pytest.raises(WebConfigError) as error:
        web_config.load(path)
    assert isinstance(error.value, ConfigError)
    assert message in str(error.value)
    assert "SECRETISH" not in str(error.value)
    assert server_pem.key.decode().splitlines()[1] not in str(error.value)


def test_encrypted_key_is_refused_without_a_prompt(tmp_path: Path, server_pem: Pem) -> None:
    server_pem.write(tmp_path, "server")
    key = serialization.load_pem_private_key(server_pem.key, password=None)
    (tmp_path / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase-SECRETISH"),
        )
    )
    path = write_web_config(
        tmp_path, "tls_server_config: {cert_file: server.crt, key_file: server.key}\n"
    )
    with pytest.raises(WebConfigError, match="private key is encrypted"):
        web_config.load(path)


def test_empty_file_means_plain_http_without_auth(tmp_path: Path) -> None:
    path = write_web_config(tmp_path, "tls_server_config:\nbasic_auth_users:\n")
    web = web_config.load(path)
    assert web.ssl_context is None and not web.users
    assert web.describe() == "no TLS, no basic auth"


# --------------------------------------------------------------------------- console script


EXE = shutil.which("llm-cost-exporter")


def command(*args: str) -> list[str]:
    return [EXE, *args] if EXE else [sys.executable, "-m", "exporter", *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_check_validates_the_web_config_file(tmp_path: Path, server_pem: Pem) -> None:
    server_pem.write(tmp_path, "server")
    good = write_web_config(
        tmp_path,
        f"tls_server_config: {{cert_file: server.crt, key_file: server.key}}\n"
        f"basic_auth_users: {{prom: '{HASH}'}}\n",
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_KEY", "_KEY_FILE"))}
    env.pop("LLM_EXPORTER_CONFIG", None)
    result = subprocess.run(
        command("--check", "--allow-empty", f"--web.config.file={good}"),
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"web config {good}: ok (TLS TLS12-TLS13, client certificates NoClientCert, "
        "basic auth for 1 user(s))"
    ]
    bad = tmp_path / "bad.yml"
    bad.write_text("tls_server_config: {cert_file: server.crt, key_flie: server.key}\n")
    result = subprocess.run(
        command("--check", "--allow-empty", f"--web.config.file={bad}"),
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "tls_server_config.key_flie: unknown key; did you mean 'key_file'?" in result.stderr


def test_console_script_serves_https_with_basic_auth(tmp_path: Path, server_pem: Pem) -> None:
    """`llm-cost-exporter --demo --web.config.file=...` as users run it: TLS 1.3 only,
    every path behind basic auth, and the password in no output."""
    server_pem.write(tmp_path, "server")
    path = write_web_config(
        tmp_path,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  min_version: TLS13\n"
        f"basic_auth_users:\n  prometheus: {HASH}\n",
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_KEY", "_KEY_FILE"))}
    env.pop("LLM_EXPORTER_CONFIG", None)
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            command(
                "--demo",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.config.file={path}",
                "--log.level=debug",
            ),
            stdout=log_file,
            stderr=log_file,
            env=env,
        )
    context = client_context(server_pem)
    try:
        ready = None
        for _ in range(1200):  # the demo writes its simulated logs before serving
            if proc.poll() is not None:
                pytest.fail(f"exporter exited: {log_path.read_text()}")
            try:
                ready = get(port, "/-/ready", context=context, auth=("prometheus", PASSWORD))
            except (ConnectionError, OSError):
                threading.Event().wait(0.1)
                continue
            if ready.status == 200:
                break
            threading.Event().wait(0.1)
        assert ready is not None and ready.status == 200, "exporter never became ready"
        metrics = get(port, "/metrics", context=context, auth=("prometheus", PASSWORD))
        assert metrics.status == 200 and metrics.tls_version == "TLSv1.3"
        assert b'llm_source_up{account="demo",provider="openai",source="costs"}' in metrics.body
        for path_ in ("/metrics", "/", "/-/healthy", "/-/ready"):
            denied = get(port, path_, context=context)
            assert denied.status == 401 and denied.headers["WWW-Authenticate"] == "Basic"
            assert get(port, path_, context=context, auth=("prometheus", "nope")).status == 401
        with pytest.raises(ssl.SSLError):
            get(port, context=client_context(server_pem, max_version=ssl.TLSVersion.TLSv1_2))
    finally:
        proc.terminate()
        proc.wait(30)
    output = log_path.read_text()
    assert "TLS TLS13-TLS13" in output and "basic auth for 1 user(s)" in output
    assert PASSWORD not in output and HASH not in output


# --------------------------------------------------------------------------- real Prometheus


def test_prometheus_scrapes_with_the_documented_settings(tmp_path: Path, server_pem: Pem) -> None:
    """A real Prometheus (Go's TLS and basic auth) with docs/security.md's scrape settings:
    `scheme: https`, `tls_config.ca_file`, `basic_auth.password_file`. A wrong password is
    a down target with a 401."""
    from tests.stack.helpers import require_binary

    binary = require_binary("prometheus")
    cert, _ = server_pem.write(tmp_path, "server")
    path = write_web_config(
        tmp_path,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        f"  min_version: TLS13\nbasic_auth_users:\n  prometheus: {HASH}\n",
    )
    (tmp_path / "password").write_text(PASSWORD + "\n")
    (tmp_path / "wrong").write_text("not-the-password\n")
    with serving(WebConfigSource.from_file(path)) as port:

        def job(name: str, password_file: str) -> dict[str, Any]:
            return {
                "job_name": name,
                "scheme": "https",
                "tls_config": {"ca_file": str(cert)},
                "basic_auth": {
                    "username": "prometheus",
                    "password_file": str(tmp_path / password_file),
                },
                "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
            }

        config = {
            "global": {"scrape_interval": "1s"},
            "scrape_configs": [job("right", "password"), job("wrong", "wrong")],
        }
        (tmp_path / "prometheus.yml").write_text(json.dumps(config))
        api_port = free_port()
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{api_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            targets: dict[str, dict[str, Any]] = {}
            for _ in range(600):  # until both targets were scraped once
                if process.poll() is not None:
                    pytest.fail("prometheus exited")
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{api_port}/api/v1/targets", timeout=10
                    ) as response:
                        active = json.loads(response.read())["data"]["activeTargets"]
                except OSError:
                    active = []
                targets = {t["labels"]["job"]: t for t in active if t["health"] != "unknown"}
                if set(targets) == {"right", "wrong"}:
                    break
                threading.Event().wait(0.1)
        finally:
            process.terminate()
            process.wait(30)
    assert targets["right"]["health"] == "up", targets["right"]["lastError"]
    assert targets["wrong"]["health"] == "down"
    assert "401" in targets["wrong"]["lastError"]
