"""Real OpenStack services run locally, each in its own process on
127.0.0.1, for the demo, the benchmarks and the tests.
"""
