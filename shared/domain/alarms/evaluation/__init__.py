"""Internals of the alarm rule engine (``shared.domain.alarms.engine`` is the public API).

* :mod:`.view` — what a rule can see in one telemetry sample (metrics, signals, series).
* :mod:`.tracks` — the per-condition state kept between samples (JSON round-trippable).
* :mod:`.plan` — rules compiled to evaluation nodes, one step per sample.
"""
