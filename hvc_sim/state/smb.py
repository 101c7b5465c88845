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
