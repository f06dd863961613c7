"""MQTT CONNECT and CONNACK on the wire (3.1, 3.1.1 and 5), for the local console gateway.

The gateway only needs the first packet of a connection: read the credentials a browser sends,
and write the same CONNECT back with the broker's credentials in their place. Everything after
CONNECT is piped through unparsed. Specs: MQTT 3.1.1 §3.1/§3.2, MQTT 5.0 §3.1/§3.2/§2.2.2.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

CONNECT = 0x10
#: A CONNECT carrying a Cognito ID token is a few KB; anything this large is not a console.
MAX_CONNECT_BYTES = 64 * 1024
#: Protocol names by level: 3 = MQTT 3.1 ("MQIsdp"), 4 = 3.1.1, 5 = 5.0.
PROTOCOL_NAMES = {3: "MQIsdp", 4: "MQTT", 5: "MQTT"}

# Connect flags (§3.1.2.3).
_USERNAME, _PASSWORD, _WILL_RETAIN, _WILL_FLAG, _CLEAN = 0x80, 0x40, 0x20, 0x04, 0x02
_WILL_QOS_SHIFT, _WILL_QOS_MASK, _RESERVED = 3, 0x18, 0x01

# MQTT 5 property identifiers by value type (§2.2.2.2).
_BYTE = {0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A}
_TWO = {0x13, 0x21, 0x22, 0x23}
_FOUR = {0x02, 0x11, 0x18, 0x27}
_VARINT = {0x0B}
_STRING = {0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F}
_BINARY = {0x09, 0x16}
_PAIR = {0x26}
#: Enhanced authentication (AUTH exchange): the gateway terminates authentication itself.
AUTHENTICATION_PROPERTIES = frozenset({0x15, 0x16})

#: CONNACK return code 5 (3.1/3.1.1) and reason code 0x87 (5.0): not authorized.
NOT_AUTHORIZED_V3 = 0x05
NOT_AUTHORIZED_V5 = 0x87


class MqttProtocolError(ValueError):
    """The bytes are not a well-formed MQTT CONNECT."""


@dataclass(frozen=True)
class Property:
    """One MQTT 5 property: its identifier and its encoded value (kept as sent)."""

    id: int
    value: bytes


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: tuple[Property, ...] = ()


@dataclass(frozen=True)
class Connect:
    level: int
    clean_start: bool
    keep_alive: int
    client_id: str
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None
    properties: tuple[Property, ...] = ()
    protocol_name: str = "MQTT"

    @property
    def v5(self) -> bool:
        return self.level == 5

    def with_credentials(self, username: str, password: bytes) -> Connect:
        """The same CONNECT with other credentials, no Will and no enhanced authentication.

        A console never publishes, so a Will (a deferred publish) is dropped rather than left
        for the broker to refuse; AUTH exchanges are not forwarded because the gateway, like IoT
        Core's custom authorizer, has already decided.
        """
        props = tuple(p for p in self.properties if p.id not in AUTHENTICATION_PROPERTIES)
        return replace(self, username=username, password=password, will=None, properties=props)


# ---- primitives --------------------------------------------------------------------------------
def encode_varint(value: int) -> bytes:
    if not 0 <= value <= 268_435_455:
        raise MqttProtocolError(f"variable byte integer out of range: {value}")
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def decode_varint(data: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    """(value, next position), None if ``data`` ends inside the integer."""
    value, shift = 0, 0
    for i in range(4):
        if pos + i >= len(data):
            return None
        byte = data[pos + i]
        value += (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos + i + 1
        shift += 7
    raise MqttProtocolError("variable byte integer longer than 4 bytes")


def packet_size(data: bytes | bytearray) -> int | None:
    """Total size of the first packet in ``data`` (fixed header included), None while incomplete."""
    if not data:
        return None
    decoded = decode_varint(data, 1)
    if decoded is None:
        return None
    remaining, start = decoded
    return start + remaining


def _string(s: str) -> bytes:
    raw = s.encode("utf-8")
    return _binary(raw)


def _binary(raw: bytes) -> bytes:
    if len(raw) > 0xFFFF:
        raise MqttProtocolError("field longer than 65535 bytes")
    return struct.pack("!H", len(raw)) + raw


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MqttProtocolError("packet ends inside a field")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def byte(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack("!H", self.take(2))[0])

    def binary(self) -> bytes:
        return self.take(self.u16())

    def string(self) -> str:
        raw = self.binary()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MqttProtocolError("string is not UTF-8") from exc

    def varint(self) -> int:
        decoded = decode_varint(self.data, self.pos)
        if decoded is None:
            raise MqttProtocolError("packet ends inside a variable byte integer")
        value, self.pos = decoded
        return value

    def properties(self) -> tuple[Property, ...]:
        length = self.varint()  # read first: it moves the position
        end = self.pos + length
        if end > len(self.data):
            raise MqttProtocolError("properties longer than the packet")
        props = []
        while self.pos < end:
            pid, start = self.byte(), self.pos
            if pid in _BYTE:
                self.take(1)
            elif pid in _TWO:
                self.take(2)
            elif pid in _FOUR:
                self.take(4)
            elif pid in _VARINT:
                self.varint()
            elif pid in _STRING or pid in _BINARY:
                self.binary()
            elif pid in _PAIR:
                self.binary()
                self.binary()
            else:
                raise MqttProtocolError(f"unknown property identifier 0x{pid:02x}")
            props.append(Property(pid, self.data[start : self.pos]))
        if self.pos != end:
            raise MqttProtocolError("property runs past the property length")
        return tuple(props)


def _encode_properties(props: tuple[Property, ...]) -> bytes:
    body = b"".join(bytes([p.id]) + p.value for p in props)
    return encode_varint(len(body)) + body


# ---- CONNECT -----------------------------------------------------------------------------------
def parse_connect(packet: bytes) -> Connect:
    """Parse one complete CONNECT packet (fixed header included)."""
    if not packet or packet[0] != CONNECT:
        raise MqttProtocolError("the first packet of a connection must be CONNECT")
    size = packet_size(packet)
    if size is None or size != len(packet):
        raise MqttProtocolError("CONNECT length does not match its remaining length")
    header = decode_varint(packet, 1)
    assert header is not None
    r = _Reader(packet[header[1] :])
    name = r.string()
    level = r.byte()
    if PROTOCOL_NAMES.get(level) != name:
        raise MqttProtocolError(f"unsupported protocol {name!r} level {level}")
    flags = r.byte()
    if flags & _RESERVED:
        raise MqttProtocolError("reserved connect flag is set")
    keep_alive = r.u16()
    properties = r.properties() if level == 5 else ()
    client_id = r.string()
    will = None
    will_qos = (flags & _WILL_QOS_MASK) >> _WILL_QOS_SHIFT
    if flags & _WILL_FLAG:
        if will_qos > 2:
            raise MqttProtocolError("will QoS 3 is not allowed")
        will_props = r.properties() if level == 5 else ()
        will = Will(
            topic=r.string(), payload=r.binary(), qos=will_qos, retain=bool(flags & _WILL_RETAIN), properties=will_props
        )
    elif will_qos or flags & _WILL_RETAIN:
        raise MqttProtocolError("will QoS/retain set without a will")
    username = r.string() if flags & _USERNAME else None
    password = r.binary() if flags & _PASSWORD else None
    if r.pos != len(r.data):
        raise MqttProtocolError("bytes left after the CONNECT payload")
    return Connect(
        level=level,
        clean_start=bool(flags & _CLEAN),
        keep_alive=keep_alive,
        client_id=client_id,
        username=username,
        password=password,
        will=will,
        properties=properties,
        protocol_name=name,
    )


def encode_connect(c: Connect) -> bytes:
    flags = _CLEAN if c.clean_start else 0
    if c.will is not None:
        flags |= _WILL_FLAG | (c.will.qos << _WILL_QOS_SHIFT) | (_WILL_RETAIN if c.will.retain else 0)
    if c.username is not None:
        flags |= _USERNAME
    if c.password is not None:
        flags |= _PASSWORD
    body = _string(c.protocol_name) + bytes([c.level, flags]) + struct.pack("!H", c.keep_alive)
    if c.v5:
        body += _encode_properties(c.properties)
    body += _string(c.client_id)
    if c.will is not None:
        if c.v5:
            body += _encode_properties(c.will.properties)
        body += _string(c.will.topic) + _binary(c.will.payload)
    if c.username is not None:
        body += _string(c.username)
    if c.password is not None:
        body += _binary(c.password)
    return bytes([CONNECT]) + encode_varint(len(body)) + body


def connack_not_authorized(level: int) -> bytes:
    """CONNACK refusing the connection as not authorized, in the client's protocol version."""
    if level == 5:
        return bytes([0x20, 0x03, 0x00, NOT_AUTHORIZED_V5, 0x00])  # no session, reason, no properties
    return bytes([0x20, 0x02, 0x00, NOT_AUTHORIZED_V3])
