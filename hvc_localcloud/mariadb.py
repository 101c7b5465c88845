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

"""MariaDB with its own data directory, port and socket."""

import getpass
import os
import subprocess

from hvc_localcloud import procs

MARIADBD = '/usr/sbin/mariadbd'
INSTALL_DB = '/usr/bin/mariadb-install-db'
CLIENT = '/usr/bin/mariadb'


class MariaDB(object):

    name = 'mariadb'

    def __init__(self, cloud):
        self.cloud = cloud
        self.datadir = cloud.path('data', 'mariadb')
        self.socket = cloud.path('run', 'mariadb.sock')
        self.log_file = cloud.log('mariadb')

    @property
    def port(self):
        return self.cloud.ports['mariadb']

    def url(self, user, database):
        return 'mysql+pymysql://%s:%s@127.0.0.1:%d/%s?charset=utf8' % (
            user, self.cloud.secrets['db_' + user], self.port, database)

    def start(self):
        if not os.path.exists(os.path.join(self.datadir, 'mysql')):
            procs.run([INSTALL_DB, '--no-defaults',
                       '--datadir=' + self.datadir,
                       '--user=' + getpass.getuser(),
                       # Only this OS user, through the socket, is root.
                       '--auth-root-authentication-method=socket',
                       '--auth-root-socket-user=' + getpass.getuser(),
                       '--skip-test-db'],
                      self.log_file, what='mariadb-install-db')
        return procs.spawn([
            MARIADBD, '--no-defaults', '--datadir=' + self.datadir,
            '--user=' + getpass.getuser(),
            '--bind-address=127.0.0.1', '--port=%d' % self.port,
            '--socket=' + self.socket,
            '--pid-file=' + self.cloud.path('run', 'mariadb.pid'),
            '--log-error=' + self.log_file,
            '--skip-name-resolve', '--innodb-buffer-pool-size=256M',
            '--max-connections=1000',
            # Durability is not the point of a throwaway cloud; speed is.
            '--innodb-flush-log-at-trx-commit=2', '--sync-binlog=0',
        ], self.log_file)

    def _sql(self, sql):
        """Run SQL as root through the socket (passwords go in on stdin,
        never on a command line).
        """
        proc = subprocess.run(
            [CLIENT, '--no-defaults', '--socket=' + self.socket, '--user=root',
             '--batch'], input=sql, text=True, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=60)
        if proc.returncode:
            raise procs.StartError('MariaDB refused SQL: %s' % proc.stdout)

    def wait(self, record, timeout=60):
        procs.wait_until(lambda: self._sql('SELECT 1;') or True,
                         'MariaDB', record, self.log_file, timeout)

    def create_databases(self, databases):
        """databases: {database: user}; each user has its own password."""
        sql = []
        for database, user in databases.items():
            # utf8 (utf8mb3), as OpenStack's own deployments create them.
            sql.append('CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET '
                       'utf8;' % database)
            sql.append("CREATE USER IF NOT EXISTS '%s'@'127.0.0.1' "
                       "IDENTIFIED BY '%s';"
                       % (user, self.cloud.secrets['db_' + user]))
            sql.append("GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'127.0.0.1';"
                       % (database, user))
        self._sql('\n'.join(sql))
