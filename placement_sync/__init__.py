"""Publish each Cluster Shared Volume as one shared DISK_GB provider."""
