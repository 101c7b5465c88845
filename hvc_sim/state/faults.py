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
