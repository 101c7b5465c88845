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

"""Glance with a file store, behind uWSGI, with keystone auth."""

import os
import shutil
import sys

from hvc_localcloud import ini
from hvc_localcloud import procs
from hvc_localcloud import uwsgi


class Glance(object):

    name = 'glance'

    def __init__(self, cloud):
        self.cloud = cloud
        self.etc = cloud.path('etc', 'glance')

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.cloud.ports['glance']

    def configure(self):
        data = self.cloud.path('data', 'glance')
        paste = os.path.join(self.etc, 'glance-api-paste.ini')
        shutil.copy(os.path.join(sys.prefix, 'etc', 'glance',
                                 'glance-api-paste.ini'), paste)
        ini.write(os.path.join(self.etc, 'glance-api.conf'), {
            'DEFAULT': {'debug': self.cloud.debug,
                        'enabled_backends': 'local:file',
                        'workers': 1},
            'database': {'connection': self.cloud.db.url('glance', 'glance')},
            'glance_store': {'default_backend': 'local'},
            'local': {'filesystem_store_datadir': os.path.join(data,
                                                               'images')},
            'os_glance_staging_store': {
                'filesystem_store_datadir': os.path.join(data, 'staging')},
            'os_glance_tasks_store': {
                'filesystem_store_datadir': os.path.join(data, 'tasks')},
            'paste_deploy': {'flavor': 'keystone', 'config_file': paste},
            'keystone_authtoken': self.cloud.keystone.authtoken('glance'),
            'oslo_concurrency': {'lock_path': os.path.join(data, 'lock')},
            # The simulated cluster's disks are descriptions of disks, not
            # VHD data: glance would refuse the snapshots nova uploads.
            'image_format': {'require_image_format_match': False},
        })

    def db_sync(self):
        procs.run([procs.venv_bin('glance-manage'), '--config-file',
                   os.path.join(self.etc, 'glance-api.conf'), 'db_sync'],
                  self.cloud.log('glance-manage'),
                  what='glance-manage db_sync')

    def start(self):
        # Image uploads arrive chunked; uWSGI must hand them on as they are.
        return uwsgi.start(self.cloud, self.name,
                           'glance.wsgi.api:application',
                           self.cloud.ports['glance'],
                           {'OS_GLANCE_CONFIG_DIR': self.etc},
                           extra=['--http-auto-chunked', '--http-raw-body',
                                  '--chunked-input-limit', '10485760'])

    def wait(self, record):
        uwsgi.wait(self.cloud, self.name, record, self.url)
