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

"""nova-compute's side of the agent: the Hyper-V host, over HTTPS.

``AgentClient`` is what ``hvc_driver.hyperv.HyperV`` uses with ``backend =
agent``: the same methods as the in-process hosts (``hvc_agent.simulated``,
``hvc_agent.oswin``), each a request to the agent (``hvc_agent.app`` says
what each request is). Utils objects are proxies whose methods are calls;
what the agent raises is raised here as the same class
(``hvc_agent.wire``).

- Every request has a timeout (``[hyperv_cluster] agent_timeout``): an
  agent that hangs fails the call, as a Hyper-V call that fails would.
- Long operations (cluster moves, live migrations with storage, file
  copies) are jobs: started by one request, waited for by others, each
  bounded; a job that outlasts the operation's own timeout is cancelled
  on the agent.
- Owner change events are long polls from a sequence number. A gap (the
  agent restarted, or dropped events it kept too long) or a broken
  connection ends the listener with an error: the driver starts it again
  and runs its periodic check, which finds what was missed.
- Cluster locks are leases, renewed while held: a nova-compute that dies
  holding one loses it after ``LOCK_LEASE_SECONDS``.
- Serial console readers are started again on an agent that restarted.

requests (a nova dependency) does the HTTP: connection pooling, TLS with a
client certificate, timeouts.
"""

import contextlib
import threading
import time

from oslo_log import log as logging
import requests

from hvc_agent import wire

LOG = logging.getLogger(__name__)

# The utils methods that run as jobs on the agent: what can take longer
# than one request should (cluster moves, storage migrations, copies);
# with the position of their own timeout argument, if they have one.
JOB_METHODS = {
    ('clusterutils', 'live_migrate_vm'): 2,
    ('clusterutils', 'move_offline_vm'): 2,
    ('livemigrationutils', 'live_migrate_vm_with_storage'): 3,
    ('pathutils', 'copy'): None,
    ('pathutils', 'copyfile'): None,
    ('vhdutils', 'merge_vhd'): None,
}
# How long one wait for a job lasts on the agent (the client asks again).
JOB_WAIT_SECONDS = 10
# How long a job's waiter waits before it asks an agent that did not
# answer again.
JOB_RETRY_SECONDS = 0.5
# How long one long poll for events lasts.
EVENT_WAIT_SECONDS = 10
# How long a cluster lock is held without renewal before the agent
# releases it, and how often the client renews one it holds.
LOCK_LEASE_SECONDS = 60
LOCK_RENEW_SECONDS = 15
# How long one request for a lock waits on the agent (the client asks
# again until it has the lock).
LOCK_WAIT_SECONDS = 10
# The pieces a file is written or read in.
FILE_PIECE_BYTES = 8 * 1024 * 1024
# The header of every answer: the agent's boot, which changes when it
# restarts.
BOOT_HEADER = 'X-Hvc-Agent-Boot'


class EventsLost(wire.AgentError):
    """The event stream has a gap: the periodic check must find what was
    in it.
    """


class AgentClient(object):
    """The agent at ``url``."""

    def __init__(self, url, ca_file=None, cert_file=None, key_file=None,
                 timeout=60):
        self.url = url.rstrip('/')
        self.timeout = timeout
        self._session = requests.Session()
        # Nothing from the environment (proxies, REQUESTS_CA_BUNDLE): the
        # agent is reached directly, trusted through ca_file alone.
        self._session.trust_env = False
        if self.url.startswith('https:'):
            self._session.verify = ca_file or True
            if cert_file:
                self._session.cert = (cert_file, key_file)
        self._boot = None
        self._boot_guard = threading.Lock()
        self._readers = {}
        self._utils = {}
        self._stop_listeners = threading.Event()

    @classmethod
    def from_options(cls, options, group):
        """The agent that the options of ``group`` name (its agent_url,
        agent_ca_file, agent_cert_file, agent_key_file and agent_timeout:
        nova-compute's [hyperv_cluster], hvc-neutron-agent's
        [hyperv_agent]).
        """
        if not options.agent_url:
            raise wire.AgentError(
                '[%s] agent_url is not set: it is the address of the '
                'hvc-agent of this Hyper-V host' % group)
        return cls(options.agent_url, ca_file=options.agent_ca_file,
                   cert_file=options.agent_cert_file,
                   key_file=options.agent_key_file,
                   timeout=options.agent_timeout)

    def close(self):
        self._stop_listeners.set()
        self._session.close()

    # The requests.

    def _request(self, method, path, timeout=None, **kwargs):
        try:
            response = self._session.request(
                method, self.url + path, timeout=timeout or self.timeout,
                **kwargs)
        except requests.exceptions.SSLError as e:
            raise wire.AgentUnreachable('TLS with the agent at %s failed: '
                                        '%s' % (self.url, e)) from e
        except requests.exceptions.RequestException as e:
            raise wire.AgentUnreachable('the agent at %s did not answer %s '
                                        '%s: %s' % (self.url, method, path,
                                                    e)) from e
        self._saw_boot(response.headers.get(BOOT_HEADER))
        if response.status_code >= 400:
            try:
                error = response.json()['error']
            except (ValueError, KeyError, TypeError):
                raise wire.AgentError('the agent at %s answered %s %s with '
                                      '%s: %s' % (self.url, method, path,
                                                  response.status_code,
                                                  response.text[:200]))
            raise wire.decode_error(error)
        return response

    def _json(self, method, path, body=None, timeout=None, params=None):
        response = self._request(
            method, path, timeout=timeout, params=params,
            data=None if body is None else wire.dumps(body),
            headers={'Content-Type': 'application/json'})
        return wire.loads(response.content) if response.content else None

    def _saw_boot(self, boot):
        """Notice an agent that restarted: start its readers again."""
        if boot is None:
            return
        with self._boot_guard:
            previous, self._boot = self._boot, boot
        if previous is not None and previous != boot and self._readers:
            LOG.warning('The agent at %s restarted: starting its %d '
                        'serial console readers again', self.url,
                        len(self._readers))
            for reader in list(self._readers.values()):
                threading.Thread(target=reader.restart, daemon=True).start()

    def call(self, target, method, *args, **kwargs):
        """``target.method(*args, **kwargs)`` on the agent."""
        return self._call(target, method, args, kwargs)

    def _call(self, target, method, args, kwargs, timeout=None):
        return self._json('POST', '/v1/call',
                          _call_body(target, method, args, kwargs),
                          timeout=timeout)['result']

    def run_job(self, target, method, args, kwargs, timeout=None):
        """``target.method(...)`` as a job on the agent, waited for; the
        job is cancelled once it outlasts ``timeout`` seconds (and an
        agent timeout more).
        """
        job = self._json('POST', '/v1/jobs',
                         _call_body(target, method, args, kwargs))['job']
        started = time.monotonic()
        unreachable_since = None
        while True:
            try:
                state = self._json(
                    'GET', '/v1/jobs/%s' % job,
                    params={'wait': JOB_WAIT_SECONDS},
                    timeout=JOB_WAIT_SECONDS + self.timeout)
                unreachable_since = None
            except wire.AgentUnreachable:
                # A blip (or the agent restarting) is waited out for an
                # agent timeout; the job runs on meanwhile, if it still
                # can.
                now = time.monotonic()
                unreachable_since = unreachable_since or now
                if now - unreachable_since > self.timeout:
                    raise
                time.sleep(JOB_RETRY_SECONDS)
                continue
            except wire.AgentRefused as e:
                raise wire.AgentError(
                    'the agent at %s lost job %s (%s.%s): it restarted, '
                    'and what became of it is for the periodic check to '
                    'find: %s' % (self.url, job, target, method, e)) from e
            if state['done']:
                if 'error' in state:
                    raise wire.decode_error(state['error'])
                return state['result']
            if timeout and time.monotonic() - started > timeout + \
                    self.timeout:
                self._json('DELETE', '/v1/jobs/%s' % job)
                raise wire.AgentError(
                    '%s.%s on the agent at %s did not end within %d s: '
                    'cancelled' % (target, method, self.url, timeout))

    # The host's methods (those of hvc_agent.simulated.Simulated).

    def utils(self, kind):
        utils = self._utils.get(kind)
        if utils is None:
            utils = self._utils[kind] = RemoteUtils(self, kind)
        return utils

    def node_name(self):
        return self.call('host', 'node_name')

    def in_a_cluster(self):
        return self.call('host', 'in_a_cluster')

    def is_standalone_host(self):
        return self.call('host', 'is_standalone_host')

    def path_flavour(self):
        return self.call('host', 'path_flavour')

    def vm_exists_on(self, host, vm_name):
        return self.call('host', 'vm_exists_on', host, vm_name)

    def remote_path(self, node, path):
        return self.call('host', 'remote_path', node, path)

    def ovs_vsctl(self, args, timeout):
        # ovs-vsctl's own timeout, and the agent's on top.
        return self._call('host', 'ovs_vsctl', [list(args), timeout], {},
                          timeout=timeout + self.timeout)

    def cluster(self, instances_folder):
        """The facts of the agent's failover cluster as placement_sync
        reads them (``placement_sync.model.as_plain``'s values);
        ValueError for an answer that is not one.
        """
        answer = self._json('GET', '/v1/cluster',
                            params={'instances_folder': instances_folder})
        if not isinstance(answer, dict) or 'cluster' not in answer:
            raise ValueError('the agent at %s answered no cluster: %.200r'
                             % (self.url, answer))
        return answer['cluster']

    def named_pipe_handler(self, pipe_name, log_file, console=None):
        return RemotePipeReader(self, pipe_name, log_file, console)

    @contextlib.contextmanager
    def cluster_lock(self, path):
        """Hold the cluster lock file ``path`` on the agent's host."""
        while True:
            lock = self._json('POST', '/v1/locks', {
                'path': path, 'wait': LOCK_WAIT_SECONDS,
                'lease': LOCK_LEASE_SECONDS},
                timeout=LOCK_WAIT_SECONDS + self.timeout)['lock']
            if lock:
                break
        released = threading.Event()

        def renew():
            while not released.wait(LOCK_RENEW_SECONDS):
                try:
                    self._json('PUT', '/v1/locks/%s' % lock)
                except wire.AgentError:
                    LOG.exception('The lease of cluster lock %s could not '
                                  'be renewed', path)
        renewer = threading.Thread(target=renew, daemon=True,
                                   name='hvc-agent lock %s' % path)
        renewer.start()
        try:
            yield
        finally:
            released.set()
            try:
                self._json('DELETE', '/v1/locks/%s' % lock)
            except wire.AgentError:
                LOG.exception('Cluster lock %s could not be released: the '
                              'agent releases it when its lease ends', path)

    # Events.

    def owner_change_listener(self):
        """A listener of VM group owner changes (as os-win's): a function
        of a callback that runs until stop_listeners, and raises when
        events may have been missed.
        """
        self._stop_listeners.clear()

        def listener(callback):
            after, boot = None, None
            while not self._stop_listeners.is_set():
                batch = self._json('GET', '/v1/events', params=(
                    {'wait': EVENT_WAIT_SECONDS} if after is None else
                    {'wait': EVENT_WAIT_SECONDS, 'after': after}),
                    timeout=EVENT_WAIT_SECONDS + self.timeout)
                if boot is not None and batch['boot'] != boot:
                    raise EventsLost('the agent at %s restarted: its '
                                     'events since are new' % self.url)
                if after is not None and batch['first'] > after + 1:
                    raise EventsLost('the agent at %s no longer has events '
                                     '%d to %d' % (self.url, after + 1,
                                                   batch['first'] - 1))
                boot = batch['boot']
                for seq, group_name, node in batch['events']:
                    after = seq
                    try:
                        callback(group_name, node)
                    except Exception:
                        LOG.exception('Following the move of %s to %s '
                                      'failed', group_name, node)
                if after is None:
                    after = batch['last']
        return listener

    def stop_listeners(self):
        self._stop_listeners.set()

    # Files.

    def read_file(self, path, offset=0, length=-1):
        response = self._request('GET', '/v1/files', params={
            'path': path, 'offset': offset, 'length': length})
        return response.content

    def write_file(self, path, data, offset=0):
        self._request('PUT', '/v1/files', data=bytes(data), params={
            'path': path, 'offset': offset},
            headers={'Content-Type': 'application/octet-stream'})


def _call_body(target, method, args, kwargs):
    return {'target': target, 'method': method, 'args': list(args),
            'kwargs': dict(kwargs)}


class RemoteUtils(object):
    """A utils object of the agent's host: each method a call."""

    def __init__(self, client, kind):
        self._client = client
        self._kind = kind

    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        client, kind = self._client, self._kind
        if kind == 'clusterutils':
            if name == 'get_vm_owner_change_listener_v2':
                return client.owner_change_listener
            if name == 'stop_vm_owner_change_listeners':
                return client.stop_listeners
        if kind == 'pathutils' and name in ('read_file', 'write_file'):
            return getattr(client, name)
        if (kind, name) in JOB_METHODS:
            position = JOB_METHODS[kind, name]

            def job(*args, **kwargs):
                timeout = kwargs.get('timeout')
                if position is not None and len(args) > position:
                    timeout = args[position]
                return client.run_job(kind, name, args, kwargs,
                                      timeout=timeout)
            return job

        def call(*args, **kwargs):
            return client.call(kind, name, *args, **kwargs)
        return call


class RemotePipeReader(object):
    """os-win's NamedPipeHandler on the agent's host: it copies the VM's
    serial port pipe into ``log_file`` there and, with ``console``, serves
    it as a TCP console (``hvc_agent.serialproxy``).
    """

    def __init__(self, client, pipe_name, log_file, console=None):
        self._client = client
        self._pipe_name = pipe_name
        self._log_file = log_file
        self._console = console
        self._console_address = None
        self._id = None

    def start(self):
        answer = self._client._json('POST', '/v1/pipes', {
            'pipe': self._pipe_name, 'log_file': self._log_file,
            'console': self._console})
        self._id, self._console_address = answer['reader'], answer.get(
            'console')
        self._client._readers[self._pipe_name] = self

    def console_address(self):
        """{"host", "port"} of the VM's TCP console on the host, or
        None.
        """
        return self._console_address

    def restart(self):
        try:
            self.start()
        except Exception:
            LOG.exception('The serial console reader of %s could not be '
                          'started again', self._pipe_name)

    def stop(self):
        self._client._readers.pop(self._pipe_name, None)
        self._console_address = None
        if self._id is not None:
            reader, self._id = self._id, None
            self._client._json('DELETE', '/v1/pipes/%s' % reader)

    def flush_log_file(self):
        if self._id is not None:
            self._client._json('POST', '/v1/pipes/%s/flush' % self._id)
