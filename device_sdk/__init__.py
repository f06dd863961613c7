"""VoltOps device SDK: what a device maker installs.

* :class:`device_sdk.client.DeviceClient` — MQTT 5 over mTLS (awsiotsdk), typed publishes
  from the shared contracts, durable offline buffer with in-order replay, command handling
  with acks.
* :mod:`device_sdk.simulate` — a deterministic fleet simulator built on the same client.
"""
