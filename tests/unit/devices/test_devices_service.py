"""Device registry domain with in-memory fakes of every port."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from shared.contracts import topics
from shared.contracts.devices import DeviceKind, DeviceStatus
from shared.domain.auth import Role
from shared.domain.devices.catalogue import BUILT_IN_MODELS
from shared.domain.devices.naming import thing_name_for, thing_type_for
from shared.domain.devices.records import DecommissionDevice, DeviceFilter, RegisterDevice, RevokeDevice
from shared.domain.errors import Conflict, Forbidden, Invalid, NotFound

CODE = "0A1B2C3D4E5F6G7H8J9K0L1M"


def reg(serial: str = "SN-0001", model: str = "lfp-16s280-ess", **kw) -> RegisterDevice:
    return RegisterDevice(serial_number=serial, model_id=model, **kw)


def csr_pem(key=None) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device")]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def test_register_provisions_thing_certificate_policy_and_broker(world, operator):
    """LCM-PF-2, LCM-SEC-3, LCM-SEC-5: registration creates the thing (type per kind, tenant and kind
    attributes), a certificate with the device policy attached, enables the broker and stores the device."""
    r = world.service.register(operator, reg(labels=["site-a", "row-3"], firmware_version="2.4.0"))
    thing = r.device.thing_name
    assert thing == thing_name_for("acme", "SN-0001")
    assert world.things.things[thing] == (
        "voltops-battery-pack",
        {"tenant": "acme", "kind": "battery_pack", "model": "lfp-16s280-ess"},
    )
    cert_arn = r.device.certificate_arn
    assert (thing, cert_arn, "voltops-device") in world.things.attached
    assert world.broker.calls == [("enabled", "acme", thing)]
    assert world.devices.get("acme", thing) == r.device
    assert r.device.status is DeviceStatus.ACTIVE and r.device.kind is DeviceKind.BATTERY_PACK
    assert r.device.labels == ["row-3", "site-a"]
    assert r.private_key_pem and r.certificate_pem.startswith("-----BEGIN CERTIFICATE")
    assert r.mqtt.client_id == thing and r.mqtt.port == 8883
    assert r.mqtt.uplink["telemetry"] == topics.uplink("acme", thing, topics.UpType.TELEMETRY)
    assert r.mqtt.downlink["cmd"] == topics.downlink("acme", thing)
    assert r.mqtt.endpoint == "abc-ats.iot.us-east-1.amazonaws.com"


def test_register_with_csr_signs_it_and_returns_no_private_key(world, operator):
    """LCM-SEC-3: with a CSR the device keeps its key; the platform never sees or returns one."""
    pem = csr_pem()
    r = world.service.register(operator, reg(csr_pem=pem))
    assert world.issuer.issued == [(r.device.thing_name, pem)]
    assert r.private_key_pem is None


@pytest.mark.parametrize(
    ("pem", "fragment"),
    [
        ("not a csr", "not a PEM certificate signing request"),
        (None, "at least 2048"),
    ],
)
def test_register_refuses_a_bad_csr_before_any_side_effect(world, operator, pem, fragment):
    """LCM-SEC-3: a broken or weak CSR is a 400 and creates nothing."""
    if pem is None:
        pem = csr_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    with pytest.raises(Invalid, match=fragment):
        world.service.register(operator, reg(csr_pem=pem))
    assert world.things.things == {} and world.issuer.issued == []


def test_same_serial_twice_is_a_precise_conflict_without_a_second_thing_or_certificate(world, operator):
    """LCM-PF-2: a retried registration does not duplicate the thing or the certificate."""
    first = world.service.register(operator, reg())
    with pytest.raises(Conflict) as err:
        world.service.register(operator, reg())
    assert err.value.code == "device_exists"
    assert "'SN-0001' is already registered" in err.value.message
    assert first.device.thing_name in err.value.message
    assert len(world.issuer.issued) == 1 and len(world.things.things) == 1


def test_same_serial_in_two_tenants_gives_two_distinct_things(world, make_principal):
    """LCM-SEC-5: tenants never share a thing, even with equal serials."""
    a = world.service.register(make_principal("acme", Role.OPERATOR), reg())
    b = world.service.register(make_principal("bolt", Role.OPERATOR), reg())
    assert a.device.thing_name != b.device.thing_name


def test_unknown_model_and_unknown_firmware_are_invalid(world, operator):
    """LCM-PF-2: devices reference the model registry."""
    with pytest.raises(Invalid, match="not in the device model registry"):
        world.service.register(operator, reg(model="nope"))
    with pytest.raises(Invalid, match="not a release of model"):
        world.service.register(operator, reg(firmware_version="9.9.9"))
    assert world.things.things == {}


def test_failed_attach_deactivates_the_new_certificate(world, operator):
    """LCM-SEC-3: a half-done registration leaves no active certificate behind."""
    world.things.fail_attach = RuntimeError("boom")
    with pytest.raises(RuntimeError):
        world.service.register(operator, reg())
    assert list(world.issuer.status.values()) == ["INACTIVE"]
    assert world.devices.items == {}


def test_lost_store_race_undoes_broker_and_battery(world, operator):
    """LCM-PF-2: when a concurrent retry stored the device first, this attempt rolls back its side effects."""
    world.devices.fail_create = Conflict("exists", code="device_exists")
    with pytest.raises(Conflict):
        world.service.register(operator, reg(battery_code=CODE))
    assert world.broker.calls[-1][0] == "disabled"
    assert world.batteries.periods(CODE) == []
    assert list(world.issuer.status.values()) == ["INACTIVE"]


def test_viewer_and_roleless_callers_are_forbidden(world, make_principal):
    """LCM-SEC-5: viewers read but cannot register or revoke; no role, no access."""
    op = make_principal("acme", Role.OPERATOR)
    thing = world.service.register(op, reg()).device.thing_name
    viewer = make_principal("acme", Role.VIEWER)
    assert world.service.get(viewer, thing).thing_name == thing
    with pytest.raises(Forbidden, match="manage_devices"):
        world.service.register(viewer, reg("SN-2"))
    with pytest.raises(Forbidden):
        world.service.revoke(viewer, thing, RevokeDevice(reason="lost"))
    with pytest.raises(Forbidden):
        world.service.get(make_principal("acme"), thing)


def test_revoke_deactivates_detaches_and_is_idempotent(world, operator):
    """LCM-SEC-3, LCM-SEC-5: revocation cuts access; a retry returns the same revoked device."""
    r = world.service.register(operator, reg())
    thing = r.device.thing_name
    revoked = world.service.revoke(operator, thing, RevokeDevice(reason="key_compromised"))
    assert revoked.status is DeviceStatus.REVOKED and revoked.revoked_at_ms
    assert world.issuer.status[r.device.certificate_id] == "INACTIVE"
    assert world.things.attached == set()
    assert world.broker.calls[-1] == ("disabled", "acme", thing)
    assert world.service.revoke(operator, thing, RevokeDevice(reason="key_compromised")) == revoked


def test_other_tenants_device_is_not_found(world, make_principal):
    """LCM-SEC-5: another tenant's device is indistinguishable from a missing one."""
    thing = world.service.register(make_principal("acme", Role.OPERATOR), reg()).device.thing_name
    other = make_principal("bolt", Role.ADMIN)
    with pytest.raises(NotFound):
        world.service.get(other, thing)
    with pytest.raises(NotFound):
        world.service.revoke(other, thing, RevokeDevice(reason="lost"))
    with pytest.raises(Invalid):
        world.service.get(other, "bad/thing")


def test_battery_ownership_moves_only_after_decommission(world, make_principal):
    """LCM-DA-1, PBR-D-4: a battery's global identity follows it to its next owner, one period each."""
    a = make_principal("acme", Role.OPERATOR)
    b = make_principal("bolt", Role.OPERATOR)
    thing_a = world.service.register(a, reg(battery_code=CODE, model="nmc-96s150-ev")).device.thing_name
    with pytest.raises(Conflict) as err:
        world.service.register(b, reg("SL-1", "sl-cab-lfp-48s", battery_code=CODE))
    assert err.value.code == "battery_owned" and "another tenant" in err.value.message
    assert "acme" not in err.value.message
    with pytest.raises(Conflict, match="of this tenant"):
        world.service.register(a, reg("SN-2", battery_code=CODE))
    world.service.revoke(a, thing_a, RevokeDevice(reason="retired"))
    with pytest.raises(Conflict):  # revoked is not decommissioned
        world.service.register(b, reg("SL-1", "sl-cab-lfp-48s", battery_code=CODE))
    world.service.decommission(a, thing_a, DecommissionDevice(reason="second_life"))
    thing_b = world.service.register(b, reg("SL-1", "sl-cab-lfp-48s", battery_code=CODE)).device.thing_name
    periods = world.batteries.periods(CODE)
    assert [(p.tenant_id, p.thing_name, p.owned_until_ms is None) for p in periods] == [
        ("acme", thing_a, False),
        ("bolt", thing_b, True),
    ]
    assert [p.tenant_id for p in world.service.battery_history(a, CODE)] == ["acme"]
    assert [p.tenant_id for p in world.service.battery_history(b, CODE)] == ["bolt"]
    with pytest.raises(NotFound):
        world.service.battery_history(make_principal("cargo", Role.VIEWER), CODE)


def test_stale_open_period_of_a_decommissioned_device_is_closed_on_reregistration(world, make_principal):
    """LCM-DA-1: an open period left by a decommissioned owner does not block the next owner."""
    a = make_principal("acme", Role.OPERATOR)
    thing_a = world.service.register(a, reg(battery_code=CODE)).device.thing_name
    key = ("acme", thing_a)
    world.devices.items[key] = world.devices.items[key].model_copy(update={"status": DeviceStatus.DECOMMISSIONED})
    world.service.register(make_principal("bolt", Role.OPERATOR), reg(battery_code=CODE))
    assert [p.owned_until_ms is None for p in world.batteries.periods(CODE)] == [False, True]


def test_decommission_from_active_cuts_access_and_is_idempotent(world, operator):
    """LCM-SEC-5: decommissioning an active device also deactivates its certificate."""
    r = world.service.register(operator, reg())
    done = world.service.decommission(operator, r.device.thing_name, DecommissionDevice())
    assert done.status is DeviceStatus.DECOMMISSIONED
    assert world.issuer.status[r.device.certificate_id] == "INACTIVE"
    assert world.service.decommission(operator, r.device.thing_name, DecommissionDevice()) == done
    with pytest.raises(Conflict, match="decommissioned"):
        world.service.revoke(operator, r.device.thing_name, RevokeDevice(reason="lost"))


def test_list_filters_and_paginates(world, operator):
    """LCM-PF-2: device lists filter by kind, status, model and label and page with an opaque token."""
    for i in range(5):
        world.service.register(operator, reg(f"SN-{i}", labels=["even"] if i % 2 == 0 else []))
    world.service.register(operator, reg("CAB-1", "ess-cab-215-240s"))
    seen, token = [], None
    while True:
        items, token = world.service.list_devices(operator, DeviceFilter(), 2, token)
        seen += [d.serial_number for d in items]
        if token is None:
            break
    assert sorted(seen) == sorted(["SN-0", "SN-1", "SN-2", "SN-3", "SN-4", "CAB-1"]) and len(seen) == 6
    cabinets, _ = world.service.list_devices(operator, DeviceFilter(kind=DeviceKind.STORAGE_CABINET), 10, None)
    assert [d.serial_number for d in cabinets] == ["CAB-1"]
    even, _ = world.service.list_devices(operator, DeviceFilter(label="even"), 10, None)
    assert sorted(d.serial_number for d in even) == ["SN-0", "SN-2", "SN-4"]
    with pytest.raises(Invalid, match="next_token"):
        world.service.list_devices(operator, DeviceFilter(), 2, "garbage!!")
    with pytest.raises(Invalid, match="limit"):
        world.service.list_devices(operator, DeviceFilter(), 101, None)


def test_thing_names_are_deterministic_valid_and_unambiguous():
    """LCM-PF-2: thing names derive from tenant + serial and are safe in topics and keys."""
    assert thing_name_for("acme", "SN/1") == thing_name_for("acme", "SN/1")
    assert thing_name_for("a-b", "c") != thing_name_for("a", "b-c")
    long = thing_name_for("t" * 64, "S" * 64)
    assert topics.check_id(long, "thing") == long
    assert thing_type_for(DeviceKind.STORAGE_CABINET) == "voltops-storage-cabinet"


def test_catalogue_covers_large_packs_and_cabinets(world, make_principal):
    """LCM-PF-2, LCM-MON-1: the registry ships a 400-cell/128-probe model and storage cabinets."""
    assert any(m.cell_count == 400 and m.probe_count == 128 for m in BUILT_IN_MODELS)
    assert any(m.kind is DeviceKind.STORAGE_CABINET for m in BUILT_IN_MODELS)
    assert world.registry.seed_catalogue() == 0  # idempotent
    viewer = make_principal("acme", Role.VIEWER)
    items, token = world.registry.list_models(viewer, 100, None)
    assert token is None and {s.model.model_id for s in items} == {m.model_id for m in BUILT_IN_MODELS}


def test_tenant_models_are_admin_only_private_and_cannot_shadow_the_catalogue(world, make_principal):
    """LCM-PF-2, LCM-SEC-5: tenants add their own models; only admins; ids never shadow platform ones."""
    admin = make_principal("acme", Role.ADMIN)
    mine = BUILT_IN_MODELS[0].model_copy(update={"model_id": "acme-pack-1"})
    assert world.registry.create(admin, mine).scope == "tenant"
    with pytest.raises(Forbidden):
        world.registry.create(make_principal("acme", Role.OPERATOR), mine)
    with pytest.raises(Conflict, match="built-in"):
        world.registry.create(admin, BUILT_IN_MODELS[0])
    with pytest.raises(Conflict):
        world.registry.create(admin, mine)
    assert world.registry.get(admin, "acme-pack-1").scope == "tenant"
    with pytest.raises(NotFound):
        world.registry.get(make_principal("bolt", Role.ADMIN), "acme-pack-1")
    # paging through platform then tenant models
    seen, token = [], None
    while True:
        items, token = world.registry.list_models(admin, 3, token)
        seen += [s.model.model_id for s in items]
        if token is None:
            break
    assert seen[-1] == "acme-pack-1" and len(seen) == len(BUILT_IN_MODELS) + 1
    # the tenant's model is usable for registration
    r = world.service.register(make_principal("acme", Role.OPERATOR), reg(model="acme-pack-1"))
    assert r.device.model_id == "acme-pack-1"
