"""A nova compute driver for the nodes of a Hyper-V failover cluster."""
