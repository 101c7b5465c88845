"""The driver in nova's in-process deployment, placement_sync on a real
placement server, and the local cloud end to end.
"""
