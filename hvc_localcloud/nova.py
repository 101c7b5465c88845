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

"""Nova: api (behind uWSGI), conductor, scheduler, the serial console
proxy and one nova-compute per simulated cluster node, each with its own
host, state_path (so its own compute node identity) and configuration
file.

The controller services share ``nova.conf``; a compute's file has no
database credentials, as on a real compute host. nova-compute runs as the
real ``nova-compute`` console script in nova's default concurrency mode
(native threads) unless the cloud asks for eventlet.
"""

import os
import shutil
import sys

from oslo_log import log as oslo_log

from hvc_localcloud import ini
from hvc_localcloud import procs
from hvc_localcloud import uwsgi

DRIVERS = {'hyperv': 'hyperv_cluster.HyperVClusterDriver',
           'fake': 'fake.SmallFakeDriver'}
# nova 34's default filters, the hints that put servers on the same or
# different hosts (tempest's multinode tests give them), and the
# project's.
SCHEDULER_FILTERS = ['ComputeFilter', 'ComputeCapabilitiesFilter',
                     'ImagePropertiesFilter', 'ServerGroupAntiAffinityFilter',
                     'ServerGroupAffinityFilter', 'DifferentHostFilter',
                     'SameHostFilter', 'HyperVClusterKeepCSVFilter']
# nova's log levels (oslo.log's and nova's own), and, without --debug, the
# two debug lines tools/build_phases.py reads to tell where a build's time
# goes: nova's lock waits and holds (the resource tracker's, a build's),
# and how long the driver's inventory reports take.
LOG_LEVELS = oslo_log.get_default_log_levels() + [
    'glanceclient=WARN', 'oslo.privsep.daemon=INFO',
    'oslo_concurrency.lockutils=DEBUG', 'hvc_driver.hostops=DEBUG']


class Nova(object):

    name = 'nova'

    def __init__(self, cloud):
        self.cloud = cloud
        self.etc = cloud.path('etc', 'nova')
        self.conf = os.path.join(self.etc, 'nova.conf')

    @property
    def url(self):
        return 'http://127.0.0.1:%d/v2.1' % self.cloud.ports['nova']

    def _common(self, state_path):
        os.makedirs(os.path.join(state_path, 'lock'), exist_ok=True)
        keystone = self.cloud.keystone
        return {
            'DEFAULT': {
                'debug': self.cloud.debug,
                'transport_url': self.cloud.rabbitmq.transport_url(),
                'my_ip': '127.0.0.1',
                'state_path': state_path,
                'graceful_shutdown_timeout': 5,
                'default_log_levels': (None if self.cloud.debug
                                       else LOG_LEVELS),
            },
            'placement': keystone.service_auth('nova'),
            'neutron': keystone.service_auth('nova'),
            'glance': {'region_name': keystone.region},
            'service_user': dict(keystone.service_auth('nova'),
                                 send_service_user_token=True),
            'oslo_concurrency': {'lock_path': os.path.join(state_path,
                                                           'lock')},
            # nova-serialproxy (controller) and the URLs nova-compute
            # gives (base_url): each VM's serial console is served on its
            # node's agent at 127.0.0.1, a port of nova's default range.
            'serial_console': {
                'enabled': True,
                'base_url': 'ws://127.0.0.1:%d/'
                            % self.cloud.ports['nova-serialproxy'],
                'serialproxy_host': '127.0.0.1',
                'serialproxy_port': self.cloud.ports['nova-serialproxy'],
                'proxyclient_address': '127.0.0.1'},
        }

    def configure(self):
        shutil.copy(os.path.join(sys.prefix, 'etc', 'nova', 'api-paste.ini'),
                    os.path.join(self.etc, 'api-paste.ini'))
        sections = self._common(self.cloud.path('data', 'nova', 'controller'))
        sections.update({
            'api': {'auth_strategy': 'keystone'},
            'api_database': {'connection': self.cloud.db.url('nova',
                                                             'nova_api')},
            # cell1's; cell0's is named after it (nova_cell0), so that
            # map_cell0 finds it without its URL on the command line.
            'database': {'connection': self.cloud.db.url('nova', 'nova')},
            'keystone_authtoken': self.cloud.keystone.authtoken('nova'),
            'conductor': {'workers': 1},
            # Hosts are mapped once, when the cloud starts.
            'scheduler': {'workers': 1,
                          'discover_hosts_in_cells_interval': -1},
            # The cloud is for trying things out and for load tests.
            'quota': {'instances': -1, 'cores': -1, 'ram': -1},
            # The project's scheduler plugins, as the deploying guide
            # configures them: moves keep their disk on its CSV and stay in
            # their cluster.
            'filter_scheduler': {
                # A burst of boots is weighed before any of them is
                # consumed from its host's state, so every host ties and
                # nova takes the first, over and over: one node would build
                # them all, each claim reading all of the node's
                # allocations from placement under the resource
                # tracker's lock. Ties go to any of the best hosts.
                'shuffle_best_same_weighed_hosts': True,
                'available_filters': ini.Multi([
                    'nova.scheduler.filters.all_filters',
                    'hvc_scheduler.filters.HyperVClusterKeepCSVFilter']),
                'enabled_filters': SCHEDULER_FILTERS,
                'weight_classes': [
                    'nova.scheduler.weights.all_weighers',
                    'hvc_scheduler.weighers.'
                    'HyperVClusterSameClusterWeigher'],
            },
        })
        ini.write(self.conf, sections)

    def compute_conf(self, node, cluster, eventlet=None):
        """The nova.conf of a node of ``cluster`` (or of a
        ``StandaloneHost``).
        """
        state_path = self.cloud.path('data', 'nova', node)
        sections = self._common(state_path)
        sections['DEFAULT'].update({
            'host': node,
            'compute_driver': DRIVERS[self.cloud.driver],
            'instances_path': cluster.instances_path,
            # The fake driver's nodes have 2 vCPUs: room for a load test.
            'initial_cpu_allocation_ratio': 16.0,
            # In native threading mode builds and snapshots share one
            # limit; nova warns unless both say the same (default 10, 5).
            'max_concurrent_builds': 10,
            'max_concurrent_snapshots': 10,
        })
        # A cluster live migration makes the instance's vNICs on the
        # destination only once the VM has moved: no network-vif-plugged
        # can come before it, so nova must not wait for one.
        sections['compute'] = {'live_migration_wait_for_vif_plug': False}
        if self.cloud.eventlet if eventlet is None else eventlet:
            sections['DEFAULT']['concurrency_backend'] = 'eventlet'
        # The node's hvc-agent, over HTTPS with a client certificate; its
        # instances_path is the one above (hvc_localcloud.agents).
        sections['hyperv_cluster'] = (
            self.cloud.agents.compute_options(node)
            if self.cloud.uses_agents() else {})
        if cluster.standalone:
            sections['hyperv_cluster']['standalone_host'] = True
        return ini.write(os.path.join(self.etc, 'nova-compute-%s.conf'
                                      % node), sections)

    def _manage(self, *args):
        procs.run([procs.venv_bin('nova-manage'), '--config-file',
                   self.conf] + list(args), self.cloud.log('nova-manage'),
                  what='nova-manage ' + ' '.join(args))

    def db_sync(self):
        self._manage('api_db', 'sync')
        self._manage('cell_v2', 'map_cell0')
        self._manage('cell_v2', 'create_cell', '--name', 'cell1')
        self._manage('db', 'sync')

    def discover_hosts(self):
        self._manage('cell_v2', 'discover_hosts')

    def start_api(self):
        return uwsgi.start(self.cloud, 'nova-api',
                           'nova.wsgi.osapi_compute:application',
                           self.cloud.ports['nova'],
                           {'OS_NOVA_CONFIG_DIR': self.etc}, threads=8)

    def wait_api(self, record):
        uwsgi.wait(self.cloud, 'nova-api', record, self.url)

    def start_service(self, binary):
        return procs.spawn([procs.venv_bin(binary), '--config-file',
                            self.conf], self.cloud.log(binary))

    def start_compute(self, node, cluster, eventlet=None):
        conf = self.compute_conf(node, cluster, eventlet)
        return procs.spawn([procs.venv_bin('nova-compute'), '--config-file',
                            conf], self.cloud.log('nova-compute-%s' % node))
