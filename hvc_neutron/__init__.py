"""Neutron for Hyper-V hosts: the ML2 mechanism driver ``hyperv`` and
``hvc-neutron-agent``, which binds the ports of one Hyper-V host's vNICs
through that host's hvc-agent.
"""
