# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Run every test with stestr and end with one plain summary line.

Nova's functional test classes are testtools based and need testtools /
stestr semantics (under pytest 9 they fail in teardown), so stestr runs
everything; the tests stay plain unittest classes that pytest can run too.
"""

import os
import re
import subprocess
import sys

# One worker for the end-to-end tests, one for the rest (see the file).
WORKERS = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), '.stestr.workers.yaml')


def main(argv):
    proc = subprocess.Popen(
        [sys.executable, '-m', 'stestr', 'run', '--color',
         '--worker-file', WORKERS] + argv,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    counts = {}
    for line in proc.stdout:
        sys.stdout.write(line)
        match = re.match(r'^ - (Passed|Failed|Skipped): (\d+)', line)
        if match:
            counts[match.group(1).lower()] = int(match.group(2))
    status = proc.wait()
    passed, failed = counts.get('passed', 0), counts.get('failed', 0)
    summary = '%d passed, %d failed' % (passed, failed)
    if counts.get('skipped'):
        summary += ', %d skipped' % counts['skipped']
    print(summary)
    if passed == 0 and status == 0:
        print('no test ran', file=sys.stderr)
        return 1
    return status


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
