"""The engine's HTTP layer: TLS verified, answers classified into stable error codes."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from stripefleet.propagation import Target, TargetResult, TargetState, propagate
from stripefleet.propagation.client import _classify
from stripefleet.testing.fleet import FaultFleet
from tests.propagation.conftest import FAST


@pytest.fixture
def self_signed(tmp_path: Path) -> ssl.SSLContext:
    """A server SSL context with a self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


async def test_untrusted_certificate_refused(self_signed: ssl.SSLContext) -> None:
    """TLS is always verified: a site with an untrusted certificate fails with
    tls_error at once (not retried), and receives no PUT."""
    with FaultFleet(["ok"], ssl_context=self_signed) as fleet:
        assert fleet.urls[0].startswith("https://")
        results: list[TargetResult] = []
        await propagate([Target(fleet.urls[0], fleet.api_key)], "stripe_secret_key",
                        "sk_test_tls0123456789", options=FAST, on_result=results.append)
        assert (results[0].state, results[0].error, results[0].attempts) == (
            TargetState.FAILED, "tls_error", 1)
        assert fleet.puts(fleet.urls[0]) == 0


@pytest.mark.parametrize(("status", "body", "error", "transient"), [
    (200, b"<html>hi</html>", "bad_response", False),
    (200, b'{"success": true', "bad_response", False),
    (200, b"[1, 2]", "bad_response", False),
    (200, None, "bad_response", False),  # over the size cap
    (503, b"<html>busy</html>", "http_503", True),
    (502, b"", "http_502", True),
    (429, b'{"success": false, "error": "too_many_attempts"}', "too_many_attempts", True),
    (404, b'{"success": false, "error": "unknown_setting"}', "unknown_setting", False),
    (405, b"", "http_405", False),
    (301, b"", "http_301", False),
])
def test_classify(status: int, body: bytes | None, error: str, transient: bool) -> None:
    """Every answer maps to a stable error code; only 429 and 5xx are transient."""
    reply = _classify(status, None, body)
    assert (reply.error, reply.transient, reply.status) == (error, transient, status)


def test_classify_reads_retry_after() -> None:
    """A 429's Retry-After is parsed (seconds)."""
    assert _classify(429, "12", b"").retry_after == 12.0
