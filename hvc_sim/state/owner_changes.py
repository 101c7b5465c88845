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

"""The failover clusters' owner change notifications."""

from hvc_sim.state import records


class OwnerChanges(object):
    """ClusterState's owner changes."""

    # What the failover cluster's owner change notifications report.

    def last_owner_change(self):
        """The sequence number of the last owner change (0: none yet)."""
        with self._db() as conn:
            row = conn.execute('SELECT MAX(seq) AS seq FROM '
                               'owner_changes').fetchone()
        return row['seq'] or 0

    def owner_changes(self, cluster, after, fault=None):
        """The owner changes of ``cluster`` after sequence ``after``; with
        ``fault`` (a method's name), also whether a fault is armed for it
        (one read: a listener asks ten times a second): (changes, armed).
        """
        with self._db() as conn:
            changes = [records.OwnerChange(**r) for r in conn.execute(
                'SELECT * FROM owner_changes WHERE cluster = ? AND seq > ? '
                'ORDER BY seq', (cluster, after))]
            if fault is None:
                return changes
            return changes, conn.execute(
                'SELECT 1 FROM faults WHERE method = ?',
                (fault,)).fetchone() is not None

    def group_failure(self, name):
        """Why the group of ``name`` is Failed, or None if it is not."""
        with self._db() as conn:
            row = conn.execute('SELECT reason FROM group_failures WHERE '
                               'name = ?', (name,)).fetchone()
        return row['reason'] if row else None
