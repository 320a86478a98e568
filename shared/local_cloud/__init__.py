"""The embedded local cloud (see cloud.py); nothing here runs at import time."""

from shared.local_cloud.cloud import LocalCloud, running

__all__ = ["LocalCloud", "running"]
