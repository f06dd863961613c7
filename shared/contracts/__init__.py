"""Wire contracts: pydantic models only (no AWS, no storage), so `device_sdk` can use them."""
