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

"""The SMB shares mapped on the nodes."""


class SMBShares(object):
    """ClusterState's SMB mappings."""

    # SMB shares mapped on a node (for SMB volumes).

    def map_share(self, node, share, username=None):
        with self._db(write=True) as conn:
            conn.execute('INSERT OR REPLACE INTO smb_mappings '
                         'VALUES (?, ?, ?)', (node, share, username))

    def unmap_share(self, node, share):
        with self._db(write=True) as conn:
            return bool(conn.execute(
                'DELETE FROM smb_mappings WHERE node = ? AND share = ?',
                (node, share)).rowcount)

    def mapped_shares(self, node):
        with self._db() as conn:
            return [r['share'] for r in conn.execute(
                'SELECT share FROM smb_mappings WHERE node = ? '
                'ORDER BY share', (node,))]
