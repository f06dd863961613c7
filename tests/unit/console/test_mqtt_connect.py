"""The local console gateway's MQTT CONNECT codec (3.1.1 and 5) and its authorizer plumbing (no sockets)."""

from __future__ import annotations

import base64
import json
import struct

import pytest

from infra.local.broker import console_acl_text, mosquitto_password_hash
from infra.local.console_gateway import authorizer_event, read_decision
from infra.local.mqtt_connect import (
    Connect,
    MqttProtocolError,
    Property,
    Will,
    connack_not_authorized,
    encode_connect,
    encode_varint,
    packet_size,
    parse_connect,
)
from shared.domain.auth.console_access import iot_policy, mosquitto_acl_lines

from .conftest import ARN_PREFIX, SUB, TENANT

TOKEN = b"eyJhbGciOiJSUzI1NiJ9." + b"x" * 3000  # an ID token is a few KB: multi-byte remaining length


def s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def b(raw: bytes) -> bytes:
    return struct.pack("!H", len(raw)) + raw


def packet(body: bytes) -> bytes:
    return b"\x10" + encode_varint(len(body)) + body


# Written out by hand from the specs (not with encode_connect), so the parser is checked independently.
V311 = packet(s("MQTT") + b"\x04" + b"\xc2" + b"\x00\x3c" + s(f"console-{SUB}-t1") + s("console") + b(TOKEN))
V5_PROPS = (
    b"\x11\x00\x00\x0e\x10"  # session expiry 3600
    + b"\x21\x00\x14"  # receive maximum 20
    + b"\x26"
    + s("app")
    + s("voltops-console")  # user property
    + b"\x15"
    + s("SCRAM-SHA-1")  # authentication method
    + b"\x16"
    + b(b"\x01\x02")  # authentication data
)
V5_WILL_PROPS = b"\x18\x00\x00\x00\x05"  # will delay 5 s
V5 = packet(
    s("MQTT")
    + b"\x05"
    + bytes([0x80 | 0x40 | 0x20 | (1 << 3) | 0x04 | 0x02])  # user, password, will retain, will QoS 1, will, clean
    + b"\x00\x1e"
    + encode_varint(len(V5_PROPS))
    + V5_PROPS
    + s(f"console-{SUB}-t2")
    + encode_varint(len(V5_WILL_PROPS))
    + V5_WILL_PROPS
    + s("voltops/console/v1/acme/alarms")
    + b(b"bye")
    + s("anything?x-amz-customauthorizer-name=voltops-dev-console")
    + b(TOKEN)
)


def test_parses_mqtt_311_connect_with_long_password() -> None:
    """SLW-WEB-7, LCM-MON-4: mqtt.js's default (3.1.1) CONNECT: client id, username and the raw ID token as password."""
    assert packet_size(V311) == len(V311) and V311[1] & 0x80  # remaining length took more than one byte
    c = parse_connect(V311)
    assert (c.level, c.protocol_name, c.clean_start, c.keep_alive) == (4, "MQTT", True, 60)
    assert (c.client_id, c.username, c.password, c.will, c.properties) == (
        f"console-{SUB}-t1",
        "console",
        TOKEN,
        None,
        (),
    )
    assert encode_connect(c) == V311


def test_parses_mqtt5_connect_with_properties_and_will() -> None:
    """SLW-WEB-7, LCM-MON-4: an MQTT 5 CONNECT with properties, a will (with its properties) and credentials."""
    c = parse_connect(V5)
    assert (c.level, c.keep_alive, c.client_id, c.password) == (5, 30, f"console-{SUB}-t2", TOKEN)
    assert c.username == "anything?x-amz-customauthorizer-name=voltops-dev-console"
    assert [p.id for p in c.properties] == [0x11, 0x21, 0x26, 0x15, 0x16]
    assert c.properties[0] == Property(0x11, b"\x00\x00\x0e\x10")
    assert c.will == Will(
        topic="voltops/console/v1/acme/alarms",
        payload=b"bye",
        qos=1,
        retain=True,
        properties=(Property(0x18, b"\x00\x00\x00\x05"),),
    )
    assert encode_connect(c) == V5  # byte-exact round trip


@pytest.mark.parametrize("raw", [V311, V5])
def test_rewrite_puts_broker_credentials_and_drops_will_and_enhanced_auth(raw: bytes) -> None:
    """LCM-SEC-5: the gateway forwards the same CONNECT with the broker user's credentials, no will, no AUTH method."""
    original = parse_connect(raw)
    rewritten = parse_connect(encode_connect(original.with_credentials("console-acme", b"per-run-secret")))
    assert (rewritten.username, rewritten.password, rewritten.will) == ("console-acme", b"per-run-secret", None)
    assert (rewritten.level, rewritten.client_id, rewritten.keep_alive, rewritten.clean_start) == (
        original.level,
        original.client_id,
        original.keep_alive,
        original.clean_start,
    )
    assert [p.id for p in rewritten.properties] == [p.id for p in original.properties if p.id not in {0x15, 0x16}]


def test_packet_size_waits_for_the_whole_packet() -> None:
    """LCM-MON-4: a CONNECT split over several WebSocket frames is only parsed once complete."""
    assert packet_size(b"") is None
    assert packet_size(V311[:1]) is None
    assert packet_size(V311[:2]) is None  # inside the two-byte remaining length
    assert packet_size(V311[:3]) == len(V311)
    assert packet_size(b"\x10\x00") == 2
    with pytest.raises(MqttProtocolError):
        packet_size(b"\x10\xff\xff\xff\xff\x01")  # remaining length of five bytes


@pytest.mark.parametrize(
    "raw",
    [
        b"\x30\x02ab",  # PUBLISH first
        packet(s("MQTT") + b"\x04\x03\x00\x3c" + s("c")),  # reserved flag set
        packet(s("MQTX") + b"\x04\x02\x00\x3c" + s("c")),  # unknown protocol name
        packet(s("MQTT") + b"\x06\x02\x00\x3c" + s("c")),  # unknown level
        packet(s("MQTT") + b"\x04\x82\x00\x3c" + s("c")),  # username flag, no username
        packet(s("MQTT") + b"\x04\x02\x00\x3c" + s("c") + b"extra"),  # trailing bytes
        packet(s("MQTT") + b"\x04\x0a\x00\x3c" + s("c")),  # will QoS without will
        packet(s("MQTT") + b"\x05\x02\x00\x3c" + b"\x02\x7f\x00" + s("c")),  # unknown property
        V311[:-1],  # truncated
    ],
)
def test_malformed_connects_are_refused(raw: bytes) -> None:
    """LCM-SEC-5: anything but a well-formed CONNECT is refused before the authorizer or broker sees it."""
    with pytest.raises(MqttProtocolError):
        parse_connect(raw)


def test_connack_not_authorized_per_version() -> None:
    """LCM-SEC-5: a refused console gets CONNACK 'not authorized' in its own protocol version."""
    assert connack_not_authorized(4) == b"\x20\x02\x00\x05"
    assert connack_not_authorized(3) == b"\x20\x02\x00\x05"
    assert connack_not_authorized(5) == b"\x20\x03\x00\x87\x00"


def test_authorizer_event_is_what_iot_core_sends() -> None:
    """LCM-SEC-5, ARC-7: the gateway hands the authorizer IoT Core's event shape (password base64-encoded)."""
    c = Connect(level=4, clean_start=True, keep_alive=60, client_id="console-x-1", username="u", password=TOKEN)
    event = authorizer_event(c, None, "conn-1")
    assert event["protocolData"]["mqtt"] == {
        "clientId": "console-x-1",
        "username": "u",
        "password": base64.b64encode(TOKEN).decode(),
    }
    assert event["connectionMetadata"] == {"id": "conn-1"}
    assert event["protocols"] == ["tls", "http", "mqtt"]


def test_gateway_grants_only_an_exact_console_policy() -> None:
    """LCM-SEC-5: the gateway lets a connection through only for an authenticated answer with a console policy."""
    policy = json.dumps(iot_policy(TENANT, SUB, ARN_PREFIX))
    ok = {"isAuthenticated": True, "disconnectAfterInSeconds": 600, "policyDocuments": [policy]}
    decision = read_decision(ok)
    assert decision.scope is not None and decision.scope.tenant == TENANT and decision.disconnect_after_s == 600
    widened = iot_policy(TENANT, SUB, ARN_PREFIX)
    widened["Statement"][1]["Resource"].append(f"{ARN_PREFIX}:topicfilter/#")
    for bad in (
        {"isAuthenticated": False},
        None,
        {**ok, "isAuthenticated": "true"},
        {**ok, "policyDocuments": []},
        {**ok, "policyDocuments": [policy, policy]},
        {**ok, "disconnectAfterInSeconds": None},
        {**ok, "policyDocuments": ["{not json"]},
        {**ok, "policyDocuments": [json.dumps(widened)]},
    ):
        assert read_decision(bad).scope is None, bad


def test_password_hash_is_mosquitto_passwd_format() -> None:
    """LCM-SEC-5: the console listener's password file uses mosquitto_passwd's $7$ PBKDF2-SHA512 format."""
    # Written by `mosquitto_passwd -b` (mosquitto 2.0.11) for the password "secret".
    expected = (
        "$7$101$8vFyb9zVjvNwRX/N$yQK0SHHxigO8k9Z4OdJJIf/eX/DMU/1yXPuCdFzFTBhaQMW7QDAlqCR2M2mPYGfq"
        "7rFytXERyHq3ErhP+S2hMw=="
    )
    assert mosquitto_password_hash("secret", salt=base64.b64decode("8vFyb9zVjvNwRX/N")) == expected
    assert mosquitto_password_hash("secret") != mosquitto_password_hash("secret")  # random salt


def test_console_acl_file_has_one_read_only_block_per_tenant() -> None:
    """LCM-SEC-5: the console listener's ACL is console_access.mosquitto_acl_lines per tenant, nothing more."""
    text = console_acl_text({"acme": "console-acme", "bolt": "console-bolt"})
    body = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert body == mosquitto_acl_lines("acme", "console-acme") + mosquitto_acl_lines("bolt", "console-bolt")
