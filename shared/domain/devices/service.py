"""Device registry: provisioning, lifecycle and battery identities (LCM-PF-2, LCM-SEC-3, LCM-SEC-5).

The service takes its ports as arguments — AWS IoT or the local CA for certificates, the thing
registry, the broker hook, the repositories — so unit tests pass in-memory fakes and the local
stack injects its own issuer. Every method takes the verified :class:`Principal`: the tenant
comes from it, never from the request, and the role check happens here, beside the rule.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.contracts import topics
from shared.contracts.devices import BatteryIdentity, DeviceModel, DeviceStatus
from shared.domain.auth import Action, Principal, authorize
from shared.domain.devices.catalogue import BUILT_IN_MODELS, PLATFORM_SCOPE
from shared.domain.devices.csr import check_csr
from shared.domain.devices.naming import thing_name_for, thing_type_for
from shared.domain.devices.paging import check_limit, decode_thing_token, decode_token, encode_token
from shared.domain.devices.ports import (
    BatteryIdentityRepository,
    BrokerAccess,
    CertificateIssuer,
    DeviceModelRepository,
    DeviceRepository,
    IssuedCertificate,
    ThingRegistry,
)
from shared.domain.devices.records import (
    BATTERY_CODE_PATTERN,
    DecommissionDevice,
    Device,
    DeviceFilter,
    RegisterDevice,
    RevokeDevice,
)
from shared.domain.errors import Conflict, Invalid, NotFound

log = logging.getLogger(__name__)

MQTT_PORT = 8883
#: Same rule as ``DeviceModel.model_id``.
MODEL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class MqttAccess:
    endpoint: str | None
    port: int
    client_id: str
    uplink: dict[str, str]
    downlink: dict[str, str]


@dataclass(frozen=True)
class Registration:
    device: Device
    certificate_pem: str
    #: Only when the platform generated the key pair; returned once, never stored.
    private_key_pem: str | None
    mqtt: MqttAccess


@dataclass(frozen=True)
class ScopedModel:
    scope: str  # "platform" or "tenant"
    model: DeviceModel


def mqtt_access(tenant_id: str, thing_name: str, endpoint: str | None, port: int = MQTT_PORT) -> MqttAccess:
    return MqttAccess(
        endpoint=endpoint,
        port=port,
        client_id=thing_name,
        uplink={t.value: topics.uplink(tenant_id, thing_name, t) for t in topics.UpType},
        downlink={t.value: topics.downlink(tenant_id, thing_name, t) for t in topics.DownType},
    )


def _model_key(s: ScopedModel) -> tuple[bool, str]:
    return (s.scope != "platform", s.model.model_id)


def _check_thing(thing_name: str) -> str:
    try:
        return topics.check_id(thing_name, "thing")
    except topics.TopicError as exc:
        raise Invalid(str(exc), code="invalid_thing_name") from exc


class DeviceModelRegistry:
    """The model registry: the built-in ``_platform`` catalogue plus each tenant's own models."""

    def __init__(self, repo: DeviceModelRepository, clock: Callable[[], int] = now_ms) -> None:
        self.repo = repo
        self.clock = clock

    def seed_catalogue(self) -> int:
        """Insert missing built-in models into ``_platform``; returns how many were added."""
        present = {m.model_id for m in self.repo.list(PLATFORM_SCOPE)}
        added = 0
        for model in BUILT_IN_MODELS:
            if model.model_id not in present:
                with contextlib.suppress(Conflict):  # a concurrent seeder won
                    self.repo.create(PLATFORM_SCOPE, model, self.clock())
                    added += 1
        return added

    def resolve(self, tenant_id: str, model_id: str) -> ScopedModel | None:
        platform = self.repo.get(PLATFORM_SCOPE, model_id)
        if platform is not None:
            return ScopedModel("platform", platform)
        own = self.repo.get(tenant_id, model_id)
        return ScopedModel("tenant", own) if own is not None else None

    def get(self, principal: Principal, model_id: str) -> ScopedModel:
        authorize(principal, Action.READ)
        if not re.match(MODEL_ID_PATTERN, model_id) or len(model_id) > 64:
            raise NotFound(f"device model {model_id[:64]!r} not found", code="model_not_found")
        found = self.resolve(principal.tenant_id, model_id)
        if found is None:
            raise NotFound(f"device model {model_id!r} not found", code="model_not_found")
        return found

    def list_models(
        self, principal: Principal, limit: int, next_token: str | None
    ) -> tuple[list[ScopedModel], str | None]:
        """Platform models then the tenant's, by id; paginated like every list."""
        authorize(principal, Action.READ)
        check_limit(limit)
        after = decode_token(next_token)
        every = [ScopedModel("platform", m) for m in self.repo.list(PLATFORM_SCOPE)] + [
            ScopedModel("tenant", m) for m in self.repo.list(principal.tenant_id)
        ]
        every.sort(key=_model_key)
        start = 0
        if after is not None:
            scope, _, model_id = after.partition("/")
            if scope not in ("platform", "tenant") or not model_id:
                raise Invalid("next_token is not a token issued by this API", code="invalid_next_token")
            after_key = (scope != "platform", model_id)
            # Continue after the last returned model even if it has gone since.
            start = sum(1 for s in every if _model_key(s) <= after_key)
        page = every[start : start + limit]
        more = start + limit < len(every)
        last = page[-1] if page else None
        return page, encode_token(f"{last.scope}/{last.model.model_id}") if more and last else None

    def create(self, principal: Principal, model: DeviceModel) -> ScopedModel:
        authorize(principal, Action.MANAGE_MODELS)
        if self.repo.get(PLATFORM_SCOPE, model.model_id) is not None:
            raise Conflict(
                f"model_id {model.model_id!r} is a built-in platform model; choose another id",
                code="model_exists",
            )
        self.repo.create(principal.tenant_id, model, self.clock())
        return ScopedModel("tenant", model)


class DeviceService:
    """Registers devices, revokes and decommissions them; keeps battery ownership periods."""

    def __init__(
        self,
        *,
        devices: DeviceRepository,
        models: DeviceModelRegistry,
        batteries: BatteryIdentityRepository,
        issuer: CertificateIssuer,
        things: ThingRegistry,
        broker: BrokerAccess,
        policy_name: str,
        mqtt_endpoint: Callable[[], str | None] = lambda: None,
        mqtt_port: int = MQTT_PORT,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.devices = devices
        self.models = models
        self.batteries = batteries
        self.issuer = issuer
        self.things = things
        self.broker = broker
        self.policy_name = policy_name
        self.mqtt_endpoint = mqtt_endpoint
        self.mqtt_port = mqtt_port
        self.clock = clock

    # --- queries -------------------------------------------------------------------------------

    def get(self, principal: Principal, thing_name: str) -> Device:
        authorize(principal, Action.READ)
        return self._own(principal.tenant_id, thing_name)

    def list_devices(
        self, principal: Principal, flt: DeviceFilter, limit: int, next_token: str | None
    ) -> tuple[list[Device], str | None]:
        authorize(principal, Action.READ)
        check_limit(limit)
        page = self.devices.query(principal.tenant_id, flt, limit, decode_thing_token(next_token))
        return page.items, encode_token(page.after)

    def battery_history(self, principal: Principal, battery_code: str) -> list[BatteryIdentity]:
        """The caller's own ownership periods of a battery; other owners' periods stay hidden."""
        authorize(principal, Action.READ)
        if not re.match(BATTERY_CODE_PATTERN, battery_code):
            raise Invalid(
                f"battery code {battery_code[:40]!r} is not a GB/T 34014 code (24 characters, 0-9 A-Z)",
                code="invalid_battery_code",
            )
        mine = [p for p in self.batteries.periods(battery_code) if p.tenant_id == principal.tenant_id]
        if not mine:
            raise NotFound(f"battery {battery_code!r} not found", code="battery_not_found")
        return mine

    # --- commands ------------------------------------------------------------------------------

    def register(self, principal: Principal, cmd: RegisterDevice) -> Registration:
        authorize(principal, Action.MANAGE_DEVICES)
        tenant = principal.tenant_id
        thing = thing_name_for(tenant, cmd.serial_number)
        existing = self.devices.get(tenant, thing)
        if existing is not None:
            raise Conflict(
                f"serial {cmd.serial_number!r} is already registered in this tenant as thing {thing!r} "
                f"(status {existing.status.value}); a device is registered once",
                code="device_exists",
                details={"thing_name": thing, "status": existing.status.value},
            )
        scoped = self.models.resolve(tenant, cmd.model_id)
        if scoped is None:
            raise Invalid(
                f"model_id {cmd.model_id!r} is not in the device model registry (GET /v1/device-models)",
                code="unknown_model",
            )
        model = scoped.model
        if cmd.firmware_version and model.firmware_versions and cmd.firmware_version not in model.firmware_versions:
            raise Invalid(
                f"firmware_version {cmd.firmware_version!r} is not a release of model {model.model_id!r} "
                f"({', '.join(model.firmware_versions)})",
                code="unknown_firmware",
            )
        if cmd.csr_pem is not None:
            check_csr(cmd.csr_pem)
        stale_periods = self._battery_periods_to_close(cmd.battery_code, tenant) if cmd.battery_code else []

        now = self.clock()
        self.things.create_thing(
            thing,
            thing_type_for(model.kind),
            {"tenant": tenant, "kind": model.kind.value, "model": model.model_id},
        )
        cert = self.issuer.issue(thing, cmd.csr_pem)
        opened: BatteryIdentity | None = None
        enabled = False
        try:
            self.things.attach(thing, cert.certificate_arn, self.policy_name)
            if cmd.battery_code:
                opened = self._claim_battery(cmd.battery_code, tenant, thing, now, stale_periods)
            self.broker.device_enabled(tenant, thing)
            enabled = True
            device = Device(
                tenant_id=tenant,
                thing_name=thing,
                kind=model.kind,
                model_id=model.model_id,
                serial_number=cmd.serial_number,
                battery_code=cmd.battery_code,
                status=DeviceStatus.ACTIVE,
                certificate_id=cert.certificate_id,
                certificate_arn=cert.certificate_arn,
                firmware_version=cmd.firmware_version,
                labels=sorted(cmd.labels),
                created_at_ms=now,
                updated_at_ms=now,
            )
            self.devices.create(device)  # the commit point; Conflict if a concurrent retry won
        except Exception:
            self._undo_registration(tenant, thing, cert, opened, enabled)
            raise
        log.info("device registered", extra={"tenant_id": tenant, "thing_name": thing, "model_id": model.model_id})
        return Registration(
            device=device,
            certificate_pem=cert.certificate_pem,
            private_key_pem=cert.private_key_pem,
            mqtt=mqtt_access(tenant, thing, self.mqtt_endpoint(), self.mqtt_port),
        )

    def revoke(self, principal: Principal, thing_name: str, cmd: RevokeDevice) -> Device:
        """Deactivate the certificate so the device can no longer connect; safe to retry."""
        authorize(principal, Action.MANAGE_DEVICES)
        device = self._own(principal.tenant_id, thing_name)
        if device.status is DeviceStatus.REVOKED:
            return device
        if device.status is DeviceStatus.DECOMMISSIONED:
            raise Conflict(f"device {thing_name!r} is decommissioned; nothing to revoke", code="device_decommissioned")
        self._cut_access(device)
        now = self.clock()
        revoked = device.model_copy(
            update={
                "status": DeviceStatus.REVOKED,
                "revoked_at_ms": now,
                "updated_at_ms": now,
                "status_reason": cmd.reason,
            }
        )
        self.devices.replace(revoked, expected_status=device.status.value)
        log.info(
            "device revoked",
            extra={"tenant_id": device.tenant_id, "thing_name": thing_name, "reason": cmd.reason},
        )
        return revoked

    def decommission(self, principal: Principal, thing_name: str, cmd: DecommissionDevice) -> Device:
        """End of life in this tenant: access cut, battery ownership period closed; safe to retry."""
        authorize(principal, Action.MANAGE_DEVICES)
        device = self._own(principal.tenant_id, thing_name)
        if device.status is DeviceStatus.DECOMMISSIONED:
            return device
        if device.status is DeviceStatus.ACTIVE:
            self._cut_access(device)
        now = self.clock()
        if device.battery_code:
            for p in self.batteries.periods(device.battery_code):
                if p.owned_until_ms is None and (p.tenant_id, p.thing_name) == (device.tenant_id, device.thing_name):
                    self.batteries.close(p.battery_code, p.owned_from_ms, now)
        done = device.model_copy(
            update={
                "status": DeviceStatus.DECOMMISSIONED,
                "updated_at_ms": now,
                "revoked_at_ms": device.revoked_at_ms or now,
                "status_reason": cmd.reason or device.status_reason,
            }
        )
        self.devices.replace(done, expected_status=device.status.value)
        log.info(
            "device decommissioned",
            extra={"tenant_id": device.tenant_id, "thing_name": thing_name, "reason": cmd.reason},
        )
        return done

    # --- internals -----------------------------------------------------------------------------

    def _own(self, tenant_id: str, thing_name: str) -> Device:
        device = self.devices.get(tenant_id, _check_thing(thing_name))
        if device is None:
            # Same answer whether the thing is absent or another tenant's: existence never leaks.
            raise NotFound(f"device {thing_name!r} not found", code="device_not_found")
        return device

    def _cut_access(self, device: Device) -> None:
        if device.certificate_id:
            self.issuer.deactivate(device.certificate_id)
        if device.certificate_arn:
            self.things.detach(device.thing_name, device.certificate_arn, self.policy_name)
        self.broker.device_disabled(device.tenant_id, device.thing_name)

    def _battery_periods_to_close(self, code: str, tenant: str) -> list[BatteryIdentity]:
        """Open periods that block nobody (their device is decommissioned or gone); else Conflict."""
        stale = []
        for p in self.batteries.periods(code):
            if p.owned_until_ms is not None:
                continue
            owner = self.devices.get(p.tenant_id, p.thing_name)
            if owner is not None and owner.status is not DeviceStatus.DECOMMISSIONED:
                if p.tenant_id == tenant:
                    raise Conflict(
                        f"battery {code!r} belongs to device {p.thing_name!r} of this tenant; "
                        "decommission that device first",
                        code="battery_owned",
                        details={"thing_name": p.thing_name},
                    )
                raise Conflict(
                    f"battery {code!r} is owned by another tenant; it can be registered here only "
                    "after its current owner decommissions it",
                    code="battery_owned",
                )
            stale.append(p)
        return stale

    def _claim_battery(
        self, code: str, tenant: str, thing: str, now: int, stale: list[BatteryIdentity]
    ) -> BatteryIdentity:
        for p in stale:
            self.batteries.close(p.battery_code, p.owned_from_ms, now)
        mine = BatteryIdentity(battery_code=code, tenant_id=tenant, thing_name=thing, owned_from_ms=now)
        try:
            self.batteries.open(mine)
        except Conflict as exc:
            raise Conflict(f"battery {code!r} is being registered concurrently; retry", code="battery_owned") from exc
        # Two concurrent claims may both have seen the battery free: the earliest open period wins.
        open_now = [p for p in self.batteries.periods(code) if p.owned_until_ms is None]
        winner = min(open_now, key=lambda p: (p.owned_from_ms, p.tenant_id, p.thing_name))
        if (winner.tenant_id, winner.thing_name, winner.owned_from_ms) != (tenant, thing, now):
            self.batteries.delete(code, now)
            raise Conflict(f"battery {code!r} was claimed concurrently by another registration", code="battery_owned")
        return mine

    def _undo_registration(
        self, tenant: str, thing: str, cert: IssuedCertificate, opened: BatteryIdentity | None, enabled: bool
    ) -> None:
        """Best-effort compensation so a failed registration leaves no usable certificate behind."""
        steps: list[Callable[[], None]] = [
            lambda: self.issuer.deactivate(cert.certificate_id),
            lambda: self.things.detach(thing, cert.certificate_arn, self.policy_name),
        ]
        if enabled:
            steps.append(lambda: self.broker.device_disabled(tenant, thing))
        if opened is not None:
            steps.append(lambda: self.batteries.delete(opened.battery_code, opened.owned_from_ms))
        for step in steps:
            try:
                step()
            except Exception:  # compensation must try every step
                log.exception("registration compensation step failed", extra={"thing_name": thing})
