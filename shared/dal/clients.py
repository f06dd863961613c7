"""Cached boto3 clients for storage (S3). Created on first use, never at import; tests reset
them with ``s3_client.cache_clear()``."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3

from shared.settings import get_settings


@cache
def s3_client() -> Any:
    s = get_settings()
    return boto3.client("s3", region_name=s.region, endpoint_url=s.aws_endpoint_url)
