"""Telemetry: validation, derived values, ingest, downsampling (pure domain)."""
