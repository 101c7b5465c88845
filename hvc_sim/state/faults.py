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

"""Faults armed to make simulated os-win methods fail."""

from hvc_sim.state import checks


class Faults(object):
    """ClusterState's armed faults."""

    # Faults: make the next ``count`` calls of a simulated os-win method
    # fail, as a real host does now and then.

    def arm_fault(self, method, count=1, message=None):
        checks.check_count('the count of a fault', count)
        with self._db(write=True) as conn:
            conn.execute('INSERT OR REPLACE INTO faults VALUES (?, ?, ?)',
                         (method, count,
                          message or 'simulated failure of %s' % method))

    def take_fault(self, method):
        """The message of an armed fault of ``method`` (used up), or None."""
        # Almost every call finds no fault: look without the write lock.
        with self._db() as conn:
            if not conn.execute('SELECT 1 FROM faults WHERE method = ?',
                                (method,)).fetchone():
                return None
        with self._db(write=True) as conn:
            row = conn.execute('SELECT * FROM faults WHERE method = ?',
                               (method,)).fetchone()
            if row is None:
                return None
            if row['remaining'] > 1:
                conn.execute('UPDATE faults SET remaining = remaining - 1 '
                             'WHERE method = ?', (method,))
            else:
                conn.execute('DELETE FROM faults WHERE method = ?',
                             (method,))
            return row['message']

    def faults(self):
        with self._db() as conn:
            return {r['method']: r['remaining']
                    for r in conn.execute('SELECT * FROM faults')}
