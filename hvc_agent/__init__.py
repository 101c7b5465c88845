"""hvc-agent: the Hyper-V host's side of the cluster driver.

nova-compute runs on Linux, one per Hyper-V host, in nova's default
native-threading mode; the agent runs on the host (a Windows service),
holds os-win, and serves what the driver's seam needs (``hvc_agent.app``)
over HTTPS with mutual TLS. With ``--backend simulated`` it serves one
node of the simulated cluster instead.
"""
