"""Errors a person can act on. Each carries the whole message to print."""


class SyncError(Exception):
    """placement_sync could not do its job; the message says why."""


class InvalidInventory(SyncError):
    """The cluster facts are wrong; nothing was written."""


class NameClash(SyncError):
    """A name this tool needs belongs to something it did not create."""


class ConfigError(SyncError):
    """The configuration is incomplete or wrong."""


class ServiceUnavailable(SyncError):
    """Placement or nova cannot be reached, or refused our credentials."""
