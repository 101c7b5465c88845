"""neutron's API (ML2) behind uWSGI, with keystone auth.

Nova asks neutron on every boot, delete and move, even for servers with no
ports. There is no Hyper-V neutron agent here, so no port would bind: the
local cloud's servers have no ports (``--nic none``) and no agent, RPC
server or periodic worker of neutron runs.
"""

import os
import shutil
import sys

from hvc_localcloud import ini
from hvc_localcloud import procs
from hvc_localcloud import uwsgi


class Neutron(object):

    name = 'neutron'

    def __init__(self, cloud):
        self.cloud = cloud
        self.etc = cloud.path('etc', 'neutron')

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.cloud.ports['neutron']

    def configure(self):
        paste = os.path.join(self.etc, 'api-paste.ini')
        shutil.copy(os.path.join(sys.prefix, 'etc', 'neutron',
                                 'api-paste.ini'), paste)
        nova = self.cloud.keystone.service_auth('neutron')
        ini.write(os.path.join(self.etc, 'neutron.conf'), {
            'DEFAULT': {
                'debug': self.cloud.debug,
                'core_plugin': 'ml2',
                'service_plugins': '',
                'auth_strategy': 'keystone',
                'api_paste_config': paste,
                'transport_url': self.cloud.rabbitmq.transport_url(),
                # No port ever changes state here; nothing to tell nova.
                'notify_nova_on_port_status_changes': False,
                'notify_nova_on_port_data_changes': False,
                'state_path': self.cloud.path('data', 'neutron'),
            },
            'database': {'connection': self.cloud.db.url('neutron',
                                                         'neutron')},
            'keystone_authtoken': self.cloud.keystone.authtoken('neutron'),
            'nova': nova,
            'oslo_concurrency': {'lock_path': self.cloud.path(
                'data', 'neutron', 'lock')},
        })
        ini.write(os.path.join(self.etc, 'plugins', 'ml2', 'ml2_conf.ini'), {
            'ml2': {'type_drivers': 'flat,vlan',
                    'tenant_network_types': '',
                    'mechanism_drivers': 'openvswitch',
                    'extension_drivers': 'port_security'},
            'ml2_type_flat': {'flat_networks': '*'},
        })

    def _config_args(self):
        return ['--config-file', os.path.join(self.etc, 'neutron.conf'),
                '--config-file', os.path.join(self.etc, 'plugins', 'ml2',
                                              'ml2_conf.ini')]

    def db_sync(self):
        procs.run([procs.venv_bin('neutron-db-manage')] +
                  self._config_args() + ['upgrade', 'heads'],
                  self.cloud.log('neutron-db-manage'),
                  what='neutron-db-manage upgrade heads')

    def start(self):
        return uwsgi.start(self.cloud, self.name,
                           'neutron.wsgi.api:application',
                           self.cloud.ports['neutron'],
                           {'OS_NEUTRON_CONFIG_DIR': self.etc})

    def wait(self, record):
        uwsgi.wait(self.cloud, self.name, record, self.url)
