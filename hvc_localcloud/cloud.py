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

"""The local cloud: every service in its own process, all on 127.0.0.1.

``Cloud(root).start()`` installs what is missing, starts MariaDB, RabbitMQ,
keystone, placement, glance, neutron, nova (api, conductor, scheduler with
hvc_scheduler's filter and weigher, one nova-compute per node of two
simulated clusters of one simulated world, each driving the node's own
``hvc-agent`` over HTTPS with a client certificate) and
``hvc-placement-sync``,
converts the flavors for targeted moves, waits until a server can be booted,
then returns with everything running in the background. ``stop()``, from
any process, stops all of it. What runs is recorded in ``cloud.json`` in
the cloud's folder (pids with their start times and each process's launch:
argv, environment, folder; ports); passwords are in
``secrets.json`` and the service configurations, readable by their owner
only; logs are in ``log/``.
"""

import concurrent.futures
import dataclasses
import json
import os
import secrets
import shutil
import signal
import sys
import threading
import time

from hvc_localcloud import agents
from hvc_localcloud import debian
from hvc_localcloud import glance
from hvc_localcloud import images
from hvc_localcloud import ini
from hvc_localcloud import keystone
from hvc_localcloud import mariadb
from hvc_localcloud import neutron
from hvc_localcloud import nova
from hvc_localcloud import placement
from hvc_localcloud import procs
from hvc_localcloud import rabbitmq

STATE_FILE = 'cloud.json'
SECRETS_FILE = 'secrets.json'
IMAGE_NAME = 'hvc-test-vhd'
# The same disk as a generation 2 VM's (what NICs are hot added to).
IMAGE_NAME_GEN2 = 'hvc-test-vhd-gen2'
# Flavors every cloud has; tests and benchmarks make their own too.
FLAVORS = {'hvc.tiny': dict(vcpus=1, ram=128, disk=1),
           'hvc.small': dict(vcpus=1, ram=512, disk=10)}
DATABASES = {'keystone': 'keystone', 'placement': 'placement',
             'glance': 'glance', 'neutron': 'neutron', 'nova_api': 'nova',
             'nova_cell0': 'nova', 'nova': 'nova'}
PORTS = ('mariadb', 'rabbitmq', 'rabbitmq_dist', 'epmd', 'keystone',
         'placement', 'glance', 'neutron', 'nova', 'nova-serialproxy')
SYNC_INTERVAL = 5
# The process name of hvc-placement-sync.
SYNC = 'hvc-placement-sync'


class AlreadyRunning(RuntimeError):
    pass


def world_file(root):
    """The simulated world's state file: both clusters, as one world, so
    that an instance can move from one to the other.
    """
    return os.path.join(root, 'clusters', 'world.sqlite')


class _InTheWorld(object):
    """What lives in the local cloud's one simulated world."""

    @property
    def state_file(self):
        return world_file(self.root)

    def world_storage(self):
        """The folder of the world's storage: every CSV, every standalone
        host's disk.
        """
        from hvc_sim import state as sim_state
        return sim_state.ClusterState(self.state_file).storage_root

    def _storage(self, *parts):
        """A folder of the world's storage."""
        return os.path.join(self.world_storage(), *parts)


@dataclasses.dataclass(frozen=True)
class SimulatedCluster(_InTheWorld):
    name: str
    nodes: tuple
    volumes: tuple  # ((name, total_gb), ...)
    root: str
    standalone = False

    @property
    def instances_path(self):
        # As operators have it: the instances folder of the cluster's
        # first CSV (also where the cluster's image cache is).
        return self._storage(self.name, self.volumes[0][0], 'OpenStack',
                             'Instances')


@dataclasses.dataclass(frozen=True)
class StandaloneHost(_InTheWorld):
    """A simulated Hyper-V host in no cluster, in the clusters' world:
    its instances_path is its own disk.
    """
    name: str
    root: str
    standalone = True

    @property
    def nodes(self):
        return (self.name,)

    @property
    def instances_path(self):
        return self._storage('hosts', self.name, 'Instances')


def clusters(root):
    """Three nodes on cluster A and two on cluster B, one CSV each."""
    return (SimulatedCluster('cluster-a', ('hv-a1', 'hv-a2', 'hv-a3'),
                             (('Volume1', 100),), root),
            SimulatedCluster('cluster-b', ('hv-b1', 'hv-b2'),
                             (('Volume1', 100),), root))


class Cloud(object):

    def __init__(self, root, driver='hyperv', eventlet=False, debug=False,
                 log=print):
        self.root = os.path.abspath(root)
        self.driver = driver
        self.eventlet = eventlet
        self.debug = debug
        self._log = log
        self._lock = threading.Lock()
        self.state = self._load(STATE_FILE) or {}
        self.secrets = self._load(SECRETS_FILE) or {}
        self.ports = self.state.get('ports', {})
        self.id = self.state.get('id')
        self.clusters = clusters(self.root)
        self.db = mariadb.MariaDB(self)
        self.rabbitmq = rabbitmq.RabbitMQ(self)
        self.keystone = keystone.Keystone(self)
        self.placement = placement.Placement(self)
        self.glance = glance.Glance(self)
        self.neutron = neutron.Neutron(self)
        self.nova = nova.Nova(self)
        self.agents = agents.Agents(self)

    # Layout.

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def log(self, name):
        return self.path('log', name + '.log')

    @property
    def openrc(self):
        return os.path.join(self.root, 'openrc')

    def _load(self, name):
        try:
            with open(os.path.join(self.root, name)) as f:
                return json.load(f)
        except FileNotFoundError:
            return None

    def _save(self, name, data):
        path = self.path(name)
        fd = os.open(path + '.tmp', os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        with os.fdopen(fd, 'w') as f:
            json.dump(data, f, indent=2)
        os.replace(path + '.tmp', path)

    def _record(self, name, record):
        with self._lock:
            self.state.setdefault('processes', {})[name] = record
            self._save(STATE_FILE, self.state)
        return record

    # What runs.

    def processes(self):
        """{name: record} in start order."""
        return dict(self.state.get('processes', {}))

    def running(self):
        return {name: rec for name, rec in self.processes().items()
                if procs.alive(rec)}

    def restart(self, name):
        """Start a process of the cloud again (after it was stopped or
        killed) with the launch it was first started with: its argv, its
        whole environment (RabbitMQ's ports, node name and data; a uWSGI
        service's configuration folder), its folder; its log goes on.
        """
        return self._record(name, procs.respawn(self.processes()[name]))

    def uses_agents(self):
        """Whether the nova-compute services drive Hyper-V hosts (through
        their agents), rather than nova's fake driver.
        """
        return self.driver == 'hyperv'

    def start_agent(self, node, host):
        """Start (and record) the hvc-agent of a node of ``host`` (a
        ``SimulatedCluster`` or a ``StandaloneHost``), on a port of its
        own.
        """
        name = agents.name(node)
        with self._lock:
            if name not in self.ports:
                port = procs.free_ports(1)[0]
                while port in self.ports.values():
                    port = procs.free_ports(1)[0]
                self.ports[name] = port
        return self._record(name, self.agents.start(node, host))

    def start_compute(self, node, cluster, eventlet=None):
        """Start (and record) the nova-compute of a node, once its agent
        answers (started first unless it runs); in eventlet mode if
        ``eventlet`` says so (default: as the cloud's).
        """
        if self.uses_agents():
            record = self.running().get(agents.name(node))
            if record is None:
                record = self.start_agent(node, cluster)
            self.agents.wait(node, record)
        record = self._record('nova-compute-' + node, self.nova.start_compute(
            node, cluster, eventlet=eventlet))
        if self.uses_agents():
            # The host's neutron agent, beside its nova-compute.
            self._record(neutron.agent_name(node),
                         self.neutron.start_agent(node))
        return record

    def stop_compute(self, node):
        """Take a node out of the cloud: stop its nova-compute and its
        neutron agent, then its hvc-agent (both call it), and forget them
        (and the hvc-agent's port).
        """
        processes = self.processes()
        names = ('nova-compute-' + node, neutron.agent_name(node),
                 agents.name(node))
        for name in names:
            if name in processes:
                procs.stop(processes[name], timeout=20)
        with self._lock:
            for name in names:
                self.state.get('processes', {}).pop(name, None)
            self.ports.pop(agents.name(node), None)
            self._save(STATE_FILE, self.state)

    # Start.

    def start(self):
        running = self.running()
        if running:
            dead = sorted(set(self.processes()) - set(running))
            raise AlreadyRunning(
                'a cloud already runs in %s%s; "python -m hvc_localcloud '
                'stop --root %s" stops it' % (
                    self.root, '' if not dead else
                    ' (but %s died: see their logs in %s)' % (
                        ', '.join(dead), self.path('log')), self.root))
        begin = time.monotonic()
        procs.aborting.clear()
        debian.ensure_installed(log=self._log)
        self._fresh_folder()
        try:
            self._start()
        except BaseException:
            self._log('the cloud did not start; stopping what did (logs '
                      'stay in %s)' % os.path.join(self.root, 'log'))
            self.stop()
            raise
        self.state['start_seconds'] = round(time.monotonic() - begin, 1)
        self._save(STATE_FILE, self.state)
        return self

    def _fresh_folder(self):
        """A cloud starts from scratch: an old cloud's data goes."""
        if os.path.isdir(self.root) and os.listdir(self.root):
            if not os.path.exists(os.path.join(self.root, STATE_FILE)):
                raise RuntimeError(
                    '%s is not empty and holds no cloud; not touching it'
                    % self.root)
            shutil.rmtree(self.root)
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o700)
        for sub in ('log', 'run', 'clusters', 'etc/keystone',
                    'etc/placement', 'etc/glance', 'etc/neutron', 'etc/nova',
                    'etc/hvc', 'data/nova', 'data/glance', 'data/neutron',
                    'data/keystone'):
            os.makedirs(self.path(sub))
        self.id = secrets.token_hex(4)
        # The agents' ports with the others': none is bound yet.
        names = list(PORTS) + ([agents.name(n) for n in self.nodes()]
                               if self.uses_agents() else [])
        self.ports = dict(zip(names, procs.free_ports(len(names))))
        self.secrets = {'rabbitmq': secrets.token_hex(16),
                        'admin': secrets.token_hex(16)}
        for user in set(DATABASES.values()):
            self.secrets['db_' + user] = secrets.token_hex(16)
        for user in keystone.SERVICE_USERS:
            self.secrets['user_' + user] = secrets.token_hex(16)
        self._save(SECRETS_FILE, self.secrets)
        if self.uses_agents():
            self.agents.pki  # the cloud's CA, made now
        self.state = {'id': self.id, 'ports': self.ports,
                      'driver': self.driver, 'eventlet': self.eventlet,
                      'started_at': time.time(), 'processes': {},
                      # Who is starting it: stop() ends a start first.
                      'starter': {'pid': os.getpid(),
                                  'start_time': procs.start_time(
                                      os.getpid())}}
        self._save(STATE_FILE, self.state)

    def _start(self):
        self._step('MariaDB and RabbitMQ')
        self._record('epmd', self.rabbitmq.start_epmd())
        db = self._record('mariadb', self.db.start())
        rabbit = self._record('rabbitmq', self.rabbitmq.start())
        self._init_clusters()
        if self.uses_agents():
            # Each nova-compute waits for its own when it starts.
            for cluster in self.clusters:
                for node in cluster.nodes:
                    self.start_agent(node, cluster)
        for service in (self.keystone, self.placement, self.glance,
                        self.neutron, self.nova):
            service.configure()
        self.db.wait(db)
        self.db.create_databases(DATABASES)

        self._step('databases, keystone, placement, glance, neutron, nova')
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            try:
                futures = [pool.submit(self.rabbitmq.wait, rabbit),
                           pool.submit(self._start_keystone)]
                for service in (self.placement, self.glance):
                    futures.append(pool.submit(self._start_api, service))
                futures.append(pool.submit(self._start_neutron))
                futures.append(pool.submit(self._start_nova, futures[0],
                                           futures[1:3]))
                for future in concurrent.futures.as_completed(futures):
                    future.result()
            except BaseException:
                # The other threads give up too, before the pool waits
                # for them.
                procs.aborting.set()
                raise

        self._step('nova-compute services (%s)' % self.driver)
        self._wait_for_computes()
        if self.uses_agents():
            self.neutron.wait_for_agents(self.admin_connection(),
                                         self.nodes())
        self.nova.discover_hosts()
        self._record(SYNC, self._start_sync())
        self._wait_for_csv_providers()
        self._step('image and flavors')
        self._seed()
        self._write_openrc()

    def _step(self, what):
        self._log('starting %s' % what)

    def _init_clusters(self):
        from hvc_sim import state as sim_state
        world = sim_state.ClusterState(world_file(self.root))
        first, *others = self.clusters
        world.init(first.name, first.nodes, first.volumes, vcpus=8,
                   memory_mb=16384)
        for cluster in others:
            world.add_cluster(cluster.name, cluster.nodes, cluster.volumes,
                              vcpus=8, memory_mb=16384)
        for cluster in self.clusters:
            os.makedirs(cluster.instances_path, exist_ok=True)

    def _start_keystone(self):
        self.keystone.db_sync()
        record = self._record('keystone', self.keystone.start())
        self.keystone.wait(record)
        self.keystone.register({
            'compute': ('nova', self.nova.url),
            'placement': ('placement', self.placement.url),
            'image': ('glance', self.glance.url),
            'network': ('neutron', self.neutron.url)})

    def _start_api(self, service):
        service.db_sync()
        service.wait(self._record(service.name, service.start()))

    def _start_neutron(self):
        self._start_api(self.neutron)
        self._record(neutron.RPC_SERVER, self.neutron.start_rpc_server())

    def _start_nova(self, rabbit_ready, catalog_ready):
        """``catalog_ready``: keystone's and placement's starts. nova's
        services find placement in keystone's catalog once, when they
        start (openstacksdk keeps a service it did not find disabled for
        good): they start once both are there.
        """
        self.nova.db_sync()
        for ready in catalog_ready:
            ready.result()
        api = self._record('nova-api', self.nova.start_api())
        rabbit_ready.result()
        for binary in ('nova-conductor', 'nova-scheduler',
                       'nova-serialproxy'):
            self._record(binary, self.nova.start_service(binary))
        # Each waits for nova-conductor to answer before it loads its
        # driver.
        for cluster in self.clusters:
            for node in cluster.nodes:
                self.start_compute(node, cluster)
        self.nova.wait_api(api)

    def nodes(self):
        return [n for c in self.clusters for n in c.nodes]

    def _wait_for_computes(self, timeout=300):
        conn = self.admin_connection()
        deadline = time.monotonic() + timeout
        while True:
            up = {s.host for s in conn.compute.services(binary='nova-compute')
                  if s.state == 'up'}
            nodes = {p.name for p in conn.placement.resource_providers()}
            waiting = [n for n in self.nodes()
                       if n not in up or n not in nodes]
            if not waiting:
                return
            for node in waiting:
                record = self.processes()['nova-compute-' + node]
                if not procs.alive(record):
                    log = self.log('nova-compute-' + node)
                    raise procs.StartError(
                        'nova-compute of %s exited; see %s:\n%s'
                        % (node, log, procs.tail(log)))
            if time.monotonic() > deadline:
                raise procs.StartError(
                    'nova-compute of %s not up and in placement after %ss; '
                    'see %s' % (', '.join(waiting), timeout,
                                os.path.join(self.root, 'log')))
            time.sleep(1)

    def sync_conf(self):
        """The configuration of hvc-placement-sync: every cluster of the
        simulated world.
        """
        return ini.write(self.path('etc', 'hvc', 'placement-sync.conf'), {
            'DEFAULT': {'debug': self.debug},
            'placement_sync': {
                'source': 'simulated',
                'simulated_state_file': world_file(self.root),
                'manage_host_aggregates': True,
                'interval': SYNC_INTERVAL,
                'max_backoff': 30},
            'placement': self.keystone.service_auth('hvc-placement-sync'),
            'nova': self.keystone.service_auth('hvc-placement-sync'),
        })

    def _start_sync(self):
        return procs.spawn(
            [procs.venv_bin('hvc-placement-sync'), '--config-file',
             self.sync_conf()], self.log(SYNC))

    def csv_provider_names(self):
        return ['hyperv-csv:%s:%s' % (c.name, v[0])
                for c in self.clusters for v in c.volumes]

    def _wait_for_csv_providers(self, timeout=180):
        conn = self.admin_connection()

        def ready():
            for name in self.csv_provider_names():
                found = list(conn.placement.resource_providers(name=name))
                if not found or not conn.placement.get(
                        '/resource_providers/%s/aggregates' % found[0].id,
                        microversion='1.19').json()['aggregates']:
                    return False
            return True
        procs.wait_until(ready, 'the CSV providers of hvc-placement-sync',
                         None, self.log(SYNC), timeout)

    def _seed(self):
        conn = self.admin_connection()
        path = images.write_vhd(self.path('data', IMAGE_NAME + '.vhd'))
        for name, properties in ((IMAGE_NAME, {}), (IMAGE_NAME_GEN2, {
                'hw_machine_type': 'hyperv-gen2'})):
            conn.image.create_image(
                name=name, filename=path, disk_format='vhd',
                container_format='bare', visibility='public', wait=True,
                allow_duplicates=True, **properties)
        for name, spec in FLAVORS.items():
            conn.compute.create_flavor(name=name, **spec)
        self.neutron.seed(conn)
        # As an operator does: each flavor's disk in a request group of its
        # own, which moves to a named host need.
        self.convert_flavors()

    def convert_flavors(self):
        procs.run([procs.venv_bin('hvc-placement-sync'), '--config-file',
                   self.sync_conf(), 'flavors', '--all'],
                  self.log('hvc-placement-sync-flavors'),
                  what='hvc-placement-sync flavors --all')

    # Clients.

    def auth(self):
        return {'auth_url': self.keystone.url, 'username': 'admin',
                'password': self.secrets['admin'], 'project_name': 'admin',
                'user_domain_name': 'Default',
                'project_domain_name': 'Default'}

    def admin_connection(self):
        import openstack
        return openstack.connect(
            region_name=keystone.REGION, compute_api_version='2.95',
            placement_api_version='1.39', **self.auth())

    def openrc_lines(self):
        auth = self.auth()
        return [
            '# The admin of the local cloud in %s.' % self.root,
            'export OS_AUTH_TYPE=password',
            'export OS_AUTH_URL=%s' % auth['auth_url'],
            'export OS_IDENTITY_API_VERSION=3',
            'export OS_USERNAME=admin',
            'export OS_PASSWORD=%s' % auth['password'],
            'export OS_PROJECT_NAME=admin',
            'export OS_USER_DOMAIN_NAME=Default',
            'export OS_PROJECT_DOMAIN_NAME=Default',
            'export OS_REGION_NAME=%s' % keystone.REGION,
            # --nic none needs 2.37; 2.95 is what python-openstackclient
            # knows best of nova 34's range.
            'export OS_COMPUTE_API_VERSION=2.95',
            'export OS_PLACEMENT_API_VERSION=1.39',
            # The openstack CLI and hvc-sim of the cloud's environment.
            'export PATH=%s:$PATH' % os.path.dirname(sys.executable),
            # The simulated world, for hvc-sim --state $HVC_SIM_STATE.
            'export HVC_SIM_STATE=%s' % world_file(self.root),
        ]

    def _write_openrc(self):
        fd = os.open(self.openrc, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        with os.fdopen(fd, 'w') as f:
            f.write('\n'.join(self.openrc_lines()) + '\n')

    # Stop.

    def _stop_starter(self, timeout=120):
        """A start still running in another process is told to stop (it
        then stops what it started), so that it starts nothing after us.
        """
        starter = self.state.get('starter')
        if (not starter or starter['pid'] == os.getpid() or
                not procs.alive(starter)):
            return
        os.kill(starter['pid'], signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while procs.alive(starter) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.state = self._load(STATE_FILE) or self.state

    def stop(self):
        """Stop every process of the cloud; returns the names of those
        that had to be killed. The OpenStack services go first (all at
        once), then the agents (a nova-compute stopping still calls its
        own), the broker and the database, then Erlang's port mapper,
        from which the broker deregisters.
        """
        self._stop_starter()
        processes = self.processes()
        last = ('rabbitmq', 'mariadb', 'epmd')
        waves = [[n for n in processes if n not in last and
                  not n.startswith(agents.PREFIX)],
                 [n for n in processes if n.startswith(agents.PREFIX)] +
                 [n for n in ('rabbitmq', 'mariadb') if n in processes],
                 [n for n in ('epmd',) if n in processes]]
        killed = []
        with concurrent.futures.ThreadPoolExecutor(len(processes) or 1) as \
                pool:
            for wave in waves:
                results = pool.map(
                    lambda n: procs.stop(processes[n], timeout=20), wave)
                killed += [n for n, k in zip(wave, results) if k]
        self.state['processes'] = {}
        self.state['stopped_at'] = time.time()
        if os.path.isdir(self.root):
            self._save(STATE_FILE, self.state)
        return killed
