"""Provisioning through the API against moto IoT: thing, certificate, policy, revocation."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.contracts import topics


def test_register_list_detail_revoke_roundtrip(api):
    """LCM-PF-2, LCM-SEC-3, LCM-SEC-5, ARC-6, ARC-7: register → list → detail → revoke; the moto IoT
    certificate ends INACTIVE and detached."""
    body = api.register("SN-0001", labels=["site-a"], firmware_version="2.4.0")
    dev = body["device"]
    thing = dev["thing_name"]
    assert dev["tenant_id"] == api.acme and dev["status"] == "active" and dev["kind"] == "battery_pack"
    assert body["private_key_pem"].startswith("-----BEGIN")
    x509.load_pem_x509_certificate(body["certificate_pem"].encode())
    assert body["mqtt"] == {
        "endpoint": "test-ats.iot.us-east-1.amazonaws.com",
        "port": 8883,
        "client_id": thing,
        "uplink": {t.value: topics.uplink(api.acme, thing, t) for t in topics.UpType},
        "downlink": {"cmd": topics.downlink(api.acme, thing)},
    }

    described = api.iot.describe_thing(thingName=thing)
    assert described["thingTypeName"] == "voltops-battery-pack"
    assert described["attributes"] == {"tenant": api.acme, "kind": "battery_pack", "model": "lfp-16s280-ess"}
    cert_id, cert_arn = dev["certificate_id"], dev["certificate_arn"]
    assert api.iot.describe_certificate(certificateId=cert_id)["certificateDescription"]["status"] == "ACTIVE"
    assert api.iot.list_thing_principals(thingName=thing)["principals"] == [cert_arn]
    assert [p["policyName"] for p in api.iot.list_attached_policies(target=cert_arn)["policies"]] == ["voltops-device"]

    listed = api.get("/v1/devices").json_body
    assert [d["thing_name"] for d in listed["items"]] == [thing] and listed["next_token"] is None
    detail = api.get(f"/v1/devices/{thing}")
    assert detail.status_code == 200 and detail.json_body == dev

    r = api.post(f"/v1/devices/{thing}/revoke", {"reason": "key_compromised"})
    assert r.status_code == 200 and r.json_body["status"] == "revoked"
    assert api.get(f"/v1/devices/{thing}").json_body["status_reason"] == "key_compromised"
    assert api.iot.describe_certificate(certificateId=cert_id)["certificateDescription"]["status"] == "INACTIVE"
    assert api.iot.list_thing_principals(thingName=thing)["principals"] == []
    assert api.iot.list_attached_policies(target=cert_arn)["policies"] == []
    again = api.post(f"/v1/devices/{thing}/revoke", {"reason": "key_compromised"})
    assert again.status_code == 200 and again.json_body == r.json_body
    assert api.get("/v1/devices?status=revoked").json_body["items"][0]["thing_name"] == thing


def test_register_with_csr(api):
    """LCM-SEC-3: the device's CSR is signed by IoT; no private key in the response."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SN-CSR")]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    body = api.register("SN-CSR", csr_pem=csr)
    assert body["private_key_pem"] is None
    cert = x509.load_pem_x509_certificate(body["certificate_pem"].encode())
    # moto signs with a key of its own (AWS IoT would use the CSR's); the subject is the CSR's.
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "SN-CSR"
    cid = body["device"]["certificate_id"]
    assert api.iot.describe_certificate(certificateId=cid)["certificateDescription"]["status"] == "ACTIVE"

    bad = api.post("/v1/devices", {"serial_number": "SN-BAD", "model_id": "lfp-16s280-ess", "csr_pem": "nope"})
    assert bad.status_code == 400 and bad.json_body["error"]["code"] == "invalid_csr"


def test_duplicate_serial_is_a_conflict_without_a_second_certificate(api):
    """LCM-PF-2: registering the same serial twice is a precise 409; one certificate only."""
    first = api.register("SN-DUP")
    r = api.post("/v1/devices", {"serial_number": "SN-DUP", "model_id": "lfp-16s280-ess"})
    assert r.status_code == 409
    err = r.json_body["error"]
    assert err["code"] == "device_exists" and first["device"]["thing_name"] in err["message"]
    assert len(api.iot.list_thing_principals(thingName=first["device"]["thing_name"])["principals"]) == 1


def test_decommission_moves_the_battery_to_its_next_owner(api):
    """LCM-DA-1, PBR-D-4: battery identity with ownership periods; each tenant sees only its own."""
    code = f"0A1B2C3D4E5F6G7H{int(api.acme[4:]):08d}"
    thing = api.register("EV-1", model_id="nmc-96s150-ev", battery_code=code)["device"]["thing_name"]
    blocked = api.post(
        "/v1/devices", {"serial_number": "CAB-9", "model_id": "sl-cab-lfp-48s", "battery_code": code}, "bob"
    )
    assert blocked.status_code == 409 and blocked.json_body["error"]["code"] == "battery_owned"
    assert api.acme not in blocked.json_body["error"]["message"]
    assert (
        api.post(f"/v1/devices/{thing}/decommission", {"reason": "second_life"}).json_body["status"] == "decommissioned"
    )
    api.register("CAB-9", user="bob", model_id="sl-cab-lfp-48s", battery_code=code)
    mine = api.get(f"/v1/batteries/{code}/history").json_body
    theirs = api.get(f"/v1/batteries/{code}/history", "bob").json_body
    assert [(p["tenant_id"], p["owned_until_ms"] is None) for p in mine["periods"]] == [(api.acme, False)]
    assert [(p["tenant_id"], p["owned_until_ms"] is None) for p in theirs["periods"]] == [(api.bolt, True)]
    assert api.get("/v1/batteries/ZZZZZZZZZZZZZZZZZZZZZZZZ/history").status_code == 404
