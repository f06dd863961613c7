"""Fleet simulator: equivalent-circuit battery packs, storage cabinets, GNSS, fault scenarios.

* :class:`~device_sdk.simulate.device.SimulatedDevice` — one device, pure and deterministic
  (``step(dt_s)`` returns contract messages), unit-testable without MQTT.
* :class:`~device_sdk.simulate.fleet.Fleet` — many devices on real ``DeviceClient`` connections,
  with :meth:`~device_sdk.simulate.fleet.Fleet.inject` for run-time scenarios.
* ``voltops-simulate`` / ``python -m device_sdk.simulate`` — the command line.
"""

from device_sdk.simulate.device import DeviceSpec, SimulatedDevice
from device_sdk.simulate.fleet import Fleet, FleetEntry, FleetSettings, load_fleet_file
from device_sdk.simulate.scenarios import CellOvervoltage, SensorDropout, ThermalRunaway, WeakCell, parse_scenario

__all__ = [
    "CellOvervoltage",
    "DeviceSpec",
    "Fleet",
    "FleetEntry",
    "FleetSettings",
    "SensorDropout",
    "SimulatedDevice",
    "ThermalRunaway",
    "WeakCell",
    "load_fleet_file",
    "parse_scenario",
]
