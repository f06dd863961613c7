"""Device registry and provisioning (domain)."""
