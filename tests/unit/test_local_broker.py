"""Local broker: each thing held to its own topics over mTLS, like the IoT policy (LCM-SEC-3, ARC-7)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from infra.local.broker import LocalBrokerAccess, MosquittoBroker, acl_text, find_mosquitto
from infra.local.ca import CsrError, LocalCA
from shared.contracts import topics


def _have_mosquitto() -> bool:
    try:
        find_mosquitto()
    except RuntimeError:
        return False
    return True


def test_acl_grants_exactly_the_policy_scope() -> None:
    """LCM-SEC-5, ARC-2: the local broker ACL grants a thing exactly the topics its IoT policy allows."""
    text = acl_text({"pack-1": "demo"})
    assert "user pack-1" in text
    assert f"topic write {topics.device_uplink_filter('demo', 'pack-1')}" in text
    assert f"topic read {topics.device_downlink_filter('demo', 'pack-1')}" in text
    assert text.count("topic ") == 2


def test_acl_refuses_unsafe_ids() -> None:
    """LCM-SEC-5: ids that could widen an ACL entry (wildcards, separators) are refused."""
    with pytest.raises(topics.TopicError):
        acl_text({"pack 1\ntopic write #": "demo"})


def test_ca_signs_csr_with_the_thing_as_subject(tmp_path: Path) -> None:
    """LCM-SEC-3: the local CA signs a device CSR with the thing name forced as the subject."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca = LocalCA(tmp_path).ensure()
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone-else")]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    cert = x509.load_pem_x509_certificate(ca.sign_csr("pack-1", csr).encode())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "pack-1"
    assert cert.issuer == ca.ca_cert.subject
    with pytest.raises(CsrError):
        ca.sign_csr("pack-1", "not a csr")
    # The CA is reused across runs (devices keep trusting the same root).
    assert LocalCA(tmp_path).ensure().ca_pem == ca.ca_pem


@pytest.mark.skipif(not _have_mosquitto(), reason="mosquitto not installed (scripts/ensure_system_packages.sh)")
def test_mtls_listener_enforces_acl_and_crl(tmp_path: Path) -> None:
    """LCM-SEC-3, LCM-SEC-5: the mTLS listener refuses other things' topics and revoked certificates."""
    ca = LocalCA(tmp_path).ensure()
    broker = MosquittoBroker(tmp_path, ca.files).start()
    access = LocalBrokerAccess(broker)
    clients: list[mqtt.Client] = []
    try:
        for thing in ("t1", "t2"):
            cert, key = ca.issue_device(thing)
            (tmp_path / f"{thing}.pem").write_text(cert)
            (tmp_path / f"{thing}.key").write_text(key)
        with access.deferred():
            access.device_enabled("demo", "t1")
            access.device_enabled("demo", "t2")

        got: list[tuple[str, bytes]] = []
        lock = threading.Lock()

        def on_message(_c, _u, msg) -> None:
            with lock:
                got.append((msg.topic, msg.payload))

        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="observer")
        sub.on_message = on_message
        sub.connect("127.0.0.1", broker.plain_port)
        sub.loop_start()
        clients.append(sub)
        sub.subscribe("voltops/#", 1)

        def device(thing: str, timeout: float = 5.0) -> mqtt.Client:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=thing)
            c.tls_set(
                ca_certs=str(ca.files.ca_cert),
                certfile=str(tmp_path / f"{thing}.pem"),
                keyfile=str(tmp_path / f"{thing}.key"),
            )
            c.connect("localhost", broker.tls_port)
            c.loop_start()
            clients.append(c)
            deadline = time.monotonic() + timeout
            while not c.is_connected() and time.monotonic() < deadline:
                time.sleep(0.02)
            return c

        t1 = device("t1")
        assert t1.is_connected()
        time.sleep(0.2)
        own = topics.uplink("demo", "t1", topics.UpType.TELEMETRY)
        other = topics.uplink("demo", "t2", topics.UpType.TELEMETRY)
        t1.publish(own, b"mine", 1).wait_for_publish(3)
        t1.publish(other, b"forged", 1).wait_for_publish(3)
        time.sleep(0.3)
        with lock:
            assert (own, b"mine") in got
            assert all(p != b"forged" for _, p in got)

        # Disabled: the open connection can no longer publish.
        access.device_disabled("demo", "t1")
        t1.publish(own, b"after-disable", 1).wait_for_publish(3)

        # Revoked certificate: refused at the next handshake.
        ca.revoke((tmp_path / "t2.pem").read_text())
        access.refresh()
        t2 = device("t2", timeout=1.0)
        assert not t2.is_connected()
        with lock:
            assert all(p != b"after-disable" for _, p in got)
    finally:
        for c in clients:
            c.loop_stop()
            c.disconnect()
        broker.stop()
    assert not broker.running
