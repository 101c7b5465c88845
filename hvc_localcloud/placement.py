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

"""Placement on the cloud's database, behind uWSGI, with keystone auth."""

import os

from hvc_localcloud import ini
from hvc_localcloud import procs
from hvc_localcloud import uwsgi


class Placement(object):

    name = 'placement'

    def __init__(self, cloud):
        self.cloud = cloud
        self.etc = cloud.path('etc', 'placement')

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.cloud.ports['placement']

    def configure(self):
        ini.write(os.path.join(self.etc, 'placement.conf'), {
            'DEFAULT': {'debug': self.cloud.debug},
            'api': {'auth_strategy': 'keystone'},
            'keystone_authtoken': self.cloud.keystone.authtoken('placement'),
            'placement_database': {
                'connection': self.cloud.db.url('placement', 'placement')},
        })

    def db_sync(self):
        procs.run([procs.venv_bin('placement-manage'), '--config-file',
                   os.path.join(self.etc, 'placement.conf'), 'db', 'sync'],
                  self.cloud.log('placement-manage'),
                  what='placement-manage db sync')

    def start(self):
        return uwsgi.start(self.cloud, self.name,
                           'placement.wsgi.api:application',
                           self.cloud.ports['placement'],
                           {'OS_PLACEMENT_CONFIG_DIR': self.etc}, threads=8)

    def wait(self, record):
        uwsgi.wait(self.cloud, self.name, record, self.url)
