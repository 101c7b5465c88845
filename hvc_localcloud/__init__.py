"""Real OpenStack services run locally, each in its own process on
127.0.0.1: ``placement_server`` (placement on sqlite, for the demo, the
benchmarks and placement_sync's tests) and the local cloud of ``make
cloud`` (``cloud``: keystone, placement, glance, neutron and nova on
MariaDB and RabbitMQ, nova-compute on the simulated clusters).
"""
