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

"""RabbitMQ with its own node name, ports, Erlang port mapper and data.

Erlang's port mapper (epmd) is started here as a process of the cloud, on
a port of its own: left to itself, the broker would start a daemon on the
well-known port 4369 that outlives it.
"""

import os

from hvc_localcloud import procs

RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server'
EPMD = '/usr/bin/epmd'
USER = 'openstack'


class RabbitMQ(object):

    name = 'rabbitmq'

    def __init__(self, cloud):
        self.cloud = cloud
        self.base = cloud.path('data', 'rabbitmq')
        self.log_file = cloud.log('rabbitmq')

    @property
    def port(self):
        return self.cloud.ports['rabbitmq']

    def transport_url(self, vhost=''):
        return 'rabbit://%s:%s@127.0.0.1:%d/%s' % (
            USER, self.cloud.secrets['rabbitmq'], self.port, vhost)

    def _env(self):
        ports = self.cloud.ports
        return dict(
            os.environ,
            HOME=self.base,  # the Erlang cookie lives there
            ERL_EPMD_PORT=str(ports['epmd']), ERL_EPMD_ADDRESS='127.0.0.1',
            RABBITMQ_CONF_ENV_FILE=os.path.join(self.base,
                                                'rabbitmq-env.conf'),
            RABBITMQ_NODENAME='hvc-%s@localhost' % self.cloud.id,
            RABBITMQ_NODE_IP_ADDRESS='127.0.0.1',
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(ports['rabbitmq_dist']),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=(
                '-kernel inet_dist_use_interface {127,0,0,1}'),
            RABBITMQ_MNESIA_BASE=os.path.join(self.base, 'mnesia'),
            RABBITMQ_LOG_BASE=os.path.join(self.base, 'log'),
            RABBITMQ_CONFIG_FILE=os.path.join(self.base, 'rabbitmq.conf'),
            RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(self.base,
                                                       'enabled_plugins'),
            RABBITMQ_PID_FILE=os.path.join(self.base, 'rabbitmq.pid'))

    def start_epmd(self):
        return procs.spawn([EPMD, '-port', str(self.cloud.ports['epmd']),
                            '-address', '127.0.0.1'],
                           self.cloud.log('epmd'))

    def start(self):
        for sub in ('mnesia', 'log'):
            os.makedirs(os.path.join(self.base, sub), exist_ok=True)
        fd = os.open(os.path.join(self.base, 'rabbitmq.conf'),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as f:
            # The default user is created when the node first boots.
            f.write('listeners.tcp.1 = 127.0.0.1:%d\n'
                    'default_user = %s\ndefault_pass = %s\n'
                    'loopback_users = none\n'
                    'log.file.level = warning\n'
                    'log.console = false\n'
                    % (self.port, USER, self.cloud.secrets['rabbitmq']))
        # No plugins: no management listener on a well-known port.
        with open(os.path.join(self.base, 'enabled_plugins'), 'w') as f:
            f.write('[].\n')
        open(os.path.join(self.base, 'rabbitmq-env.conf'), 'a').close()
        return procs.spawn([RABBITMQ_SERVER], self.log_file, env=self._env())

    def wait(self, record, timeout=90):
        import kombu

        def check():
            amqp_url = 'amqp' + self.transport_url()[len('rabbit'):]
            with kombu.Connection(amqp_url,
                                  connect_timeout=2) as conn:
                conn.connect()
                return True
        procs.wait_until(check, 'RabbitMQ', record, self.log_file, timeout)
