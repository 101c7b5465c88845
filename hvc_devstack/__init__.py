"""A tiny local stand-in for the services this project talks to.

Used by the demo, the benchmarks and the functional tests: a real placement
server on 127.0.0.1 with a throwaway sqlite database.
"""
