import sys

import testtools


def run_as_tool(case):
    """Run one harness test case as a tool (the benchmarks, the scenario).

    Its result goes to stderr; returns the tool's exit status.
    """
    result = testtools.TextTestResult(sys.stderr)
    result.startTestRun()
    try:
        case.run(result)
    finally:
        result.stopTestRun()
    return 0 if result.wasSuccessful() else 1
