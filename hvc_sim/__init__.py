"""A simulated Hyper-V failover cluster, for Linux, the demo and the tests.

Its state lives in one sqlite file that every process on the machine can
share, as the nodes of a real cluster share the cluster database.
"""
