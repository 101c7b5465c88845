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

"""The local cloud's services without a whole cloud: Erlang's port mapper,
MariaDB, RabbitMQ, a uWSGI application and ``hvc-placement-sync``, each
started by the cloud's own code in a temporary folder, restarted through
``Cloud.restart`` and looked at from outside (/proc, their sockets, their
logs); and the command lines of every service and set-up command of a
cloud, built but not run.
"""

import configparser
import ipaddress
import os
import shutil
import tempfile

import fixtures
import psutil
import requests
from sqlalchemy.engine import url as sqla_url
import testtools

from hvc_localcloud import cloud as cloud_mod
from hvc_localcloud import debian
from hvc_localcloud import procs
from hvc_localcloud import uwsgi
from tests.localcloud import leaks

# A WSGI application that, as OpenStack's do, finds its configuration
# through an OS_*_CONFIG_DIR variable, and cannot load without it.
ECHO = 'echo-api'
ECHO_APP = '''\
import os

with open(os.path.join(os.environ['OS_ECHO_CONFIG_DIR'], 'echo.conf'),
          'rb') as f:
    BODY = f.read()


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [BODY]
'''
ECHO_CONF = b'echo configured\n'


def seen(record):
    """(cmdline, environment, folder) of a recorded process, from /proc."""
    proc = psutil.Process(record['pid'])
    return proc.cmdline(), proc.environ(), proc.cwd()


def differing(env, other):
    """The names of the variables two environments do not share (their
    values may be secrets).
    """
    return sorted(k for k in set(env) | set(other)
                  if env.get(k) != other.get(k))


def changed(before, after):
    """What differs between two ``seen``."""
    env = differing(before[1], after[1])
    return ([] if before[0] == after[0] else
            ['cmdline %s -> %s' % (before[0], after[0])]) + (
        ['environment: %s' % ', '.join(env)] if env else []) + (
        [] if before[2] == after[2] else
        ['folder %s -> %s' % (before[2], after[2])])


def listening(record):
    """{(address, port)} the process group of a record listens on (TCP)
    or is bound to (UDP).
    """
    found = set()
    for pid in procs.group_members(record['pid']):
        try:
            sockets = psutil.Process(pid).net_connections('inet')
        except psutil.NoSuchProcess:
            continue
        found |= {s.laddr[:2] for s in sockets
                  if s.status in (psutil.CONN_LISTEN, psutil.CONN_NONE)}
    return found


class TestServices(testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        debian.ensure_installed(log=lambda *_args: None)
        cls.tmp = tempfile.mkdtemp(prefix='hvc-services-')
        cls.cloud = cloud_mod.Cloud(os.path.join(cls.tmp, 'cloud'),
                                    log=lambda *_args: None)
        try:
            cls._start()
        except BaseException:
            cls._stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls._stop()
        super().tearDownClass()

    @classmethod
    def _stop(cls):
        cls.cloud.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def _start(cls):
        cloud = cls.cloud
        cloud._fresh_folder()
        cloud._init_clusters()  # the world hvc-placement-sync reads
        app = os.path.join(cls.tmp, 'app')
        os.makedirs(os.path.join(app, 'etc'))
        with open(os.path.join(app, 'echo.py'), 'w') as f:
            f.write(ECHO_APP)
        with open(os.path.join(app, 'etc', 'echo.conf'), 'wb') as f:
            f.write(ECHO_CONF)
        cloud._record('epmd', cloud.rabbitmq.start_epmd())
        cloud._record('mariadb', cloud.db.start())
        cloud._record('rabbitmq', cloud.rabbitmq.start())
        # On the port of a service this test does not start.
        cloud._record(ECHO, uwsgi.start(
            cloud, ECHO, 'echo:application', cloud.ports['glance'],
            {'OS_ECHO_CONFIG_DIR': os.path.join(app, 'etc')},
            extra=['--pythonpath', app]))
        # Keystone is not there: it tries, says so and tries again.
        cloud._record(cloud_mod.SYNC, cloud._start_sync())
        cls._wait_for_all()

    @classmethod
    def _wait_for_all(cls):
        """Until each service works (RabbitMQ with the cloud's transport
        URL) and has opened what it listens on.
        """
        cloud = cls.cloud
        records = cloud.processes()
        echo = records[ECHO]

        def echo_answers():
            return requests.get(cls.echo_url(), timeout=2).content == \
                ECHO_CONF
        procs.wait_until(echo_answers, ECHO, echo, echo['log_file'], 60)
        sync = records[cloud_mod.SYNC]
        # oslo.log's lines name the process.
        first_try = '%d ERROR placement_sync.cmd [-] sync failed' % (
            sync['pid'])
        procs.wait_until(
            lambda: first_try in procs.tail(sync['log_file'], 100),
            cloud_mod.SYNC, sync, sync['log_file'], 60)
        cloud.db.wait(records['mariadb'])
        cloud.rabbitmq.wait(records['rabbitmq'])

    @classmethod
    def echo_url(cls):
        return 'http://127.0.0.1:%d/' % cls.cloud.ports['glance']

    def own_ports(self):
        """What each service may listen on: its own ports, no other."""
        ports = self.cloud.ports
        return {'epmd': {ports['epmd']}, 'mariadb': {ports['mariadb']},
                'rabbitmq': {ports['rabbitmq'], ports['rabbitmq_dist']},
                ECHO: {ports['glance']}, cloud_mod.SYNC: set()}

    def test_a_restart_keeps_the_launch_of_each_kind_of_service(self):
        # The restart comes from another environment and folder than the
        # start: a service restarted with them would lose its own (the
        # broker's ports, node name and data; the API's configuration).
        self.useFixture(fixtures.EnvironmentVariable('HVC_RESTARTED_FROM',
                                                     'elsewhere'))
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(self.useFixture(fixtures.TempDir()).path)
        before = self.cloud.processes()
        first = {name: seen(record) for name, record in before.items()}
        # The broker registers with the port mapper when it starts.
        for name in ('epmd', 'mariadb', 'rabbitmq', ECHO, cloud_mod.SYNC):
            self.cloud.restart(name)
        self._wait_for_all()

        for name, record in self.cloud.processes().items():
            self.assertNotEqual(before[name]['pid'], record['pid'], name)
            now = seen(record)
            self.assertEqual([], changed(first[name], now), name)
            self.assertEqual([], differing(record['env'], now[1]), name)
            sockets = listening(record)
            self.assertEqual(self.own_ports()[name],
                             {port for _address, port in sockets}, name)
            for address, port in sockets:
                self.assertTrue(ipaddress.ip_address(address).is_loopback,
                                '%s on %s:%d' % (name, address, port))

    def test_no_password_on_a_command_line_or_in_a_log(self):
        self.assertEqual([], leaks.find(self.cloud))


class TestCommandLines(testtools.TestCase):

    def test_no_password_on_the_command_line_of_any_command(self):
        cloud = cloud_mod.Cloud(os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'cloud'),
            log=lambda *_args: None)
        cloud._fresh_folder()
        cloud._init_clusters()
        run = self.useFixture(fixtures.MockPatchObject(procs, 'run')).mock
        spawn = self.useFixture(fixtures.MockPatchObject(procs,
                                                         'spawn')).mock
        # What the cloud's start runs and starts, in its order.
        cloud.rabbitmq.start_epmd()
        cloud.db.start()
        cloud.rabbitmq.start()
        apis = (cloud.keystone, cloud.placement, cloud.glance, cloud.neutron)
        for service in apis + (cloud.nova,):
            service.configure()
        for service in apis:
            service.db_sync()
            service.start()
        cloud.nova.db_sync()
        cloud.nova.start_api()
        for binary in ('nova-conductor', 'nova-scheduler',
                       'nova-serialproxy'):
            cloud.nova.start_service(binary)
        cluster = cloud.clusters[0]
        cloud.nova.start_compute(cluster.nodes[0], cluster)
        cloud.neutron.start_rpc_server()
        cloud.neutron.start_agent(cluster.nodes[0])
        cloud.nova.discover_hosts()
        cloud._start_sync()
        cloud.convert_flavors()

        calls = run.call_args_list + spawn.call_args_list
        self.assertGreater(len(calls), 20)
        for call in calls:
            argv = ' '.join(call.args[0])
            for name, secret in cloud.secrets.items():
                # Not assertNotIn: its message would show the secret.
                self.assertFalse(secret in argv,  # noqa: H214
                                 '%s on the command line: '
                                 '%s' % (name, argv.replace(secret, '***')))
        [bootstrap] = [c for c in run.call_args_list
                       if 'bootstrap' in c.args[0]]
        self.assertEqual(cloud.secrets['admin'],
                         bootstrap.kwargs['env']['OS_BOOTSTRAP_PASSWORD'])
        # map_cell0, given no URL, names cell0's database after cell1's.
        conf = configparser.ConfigParser(interpolation=None, strict=False)
        conf.read(cloud.nova.conf)
        cell1 = sqla_url.make_url(conf['database']['connection']).database
        self.assertIn(cell1 + '_cell0', cloud_mod.DATABASES)
