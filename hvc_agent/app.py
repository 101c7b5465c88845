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

"""The agent's HTTP API: the Hyper-V host's seam, as a WSGI application.

Every request and answer is JSON (``hvc_agent.wire``), except file
contents, which are the request or answer body. Every answer carries the
agent's boot id (``X-Hvc-Agent-Boot``), which changes when it restarts.

``GET /v1/host``
    this host: its node name, whether it is in a cluster, the boot id.
``GET /v1/cluster?instances_folder=F``
    this host's failover cluster as placement_sync reads it: its name,
    nodes and CSVs, each measured (``F`` the CSVs' instances folder), or
    offline with its reason (``placement_sync.model.as_plain``); refused
    on a standalone host.
``POST /v1/call`` ``{"target", "method", "args", "kwargs"}``
    one method of a utils object (``target`` a utils kind) or of the host
    (``target`` ``host``); ``{"result"}``, or the error it raised.
``POST /v1/jobs`` (the same body), ``GET /v1/jobs/ID?wait=S``,
``DELETE /v1/jobs/ID``
    a long method as a job: started, waited for (at most S seconds per
    request), cancelled (a cluster move is cancelled through the cluster,
    a storage migration's Hyper-V jobs are stopped).
``GET /v1/events?after=SEQ&wait=S``
    the owner changes of the cluster's VM groups after SEQ (waiting at
    most S seconds for one), with the stream's id, which changes when the
    agent restarts or its own listener had to be started again (what
    happened meanwhile was not heard).
``GET /v1/files?path=P&offset=O&length=L``, ``PUT /v1/files?path=P&offset=O``
    a file's bytes, read or written in pieces.
``POST /v1/pipes`` ``{"pipe", "log_file", "console"}``,
``POST /v1/pipes/ID/flush``, ``DELETE /v1/pipes/ID``
    a serial port pipe copied into its log file and, with ``console``
    (``{"address", "port_range"}``), served as a TCP console for
    nova-serialproxy (``hvc_agent.serialproxy``): ``{"reader",
    "console": {"host", "port"} or null}``.
``POST /v1/locks`` ``{"path", "wait", "lease"}``, ``PUT /v1/locks/ID``,
``DELETE /v1/locks/ID``
    a cluster lock file held for the caller, released when its lease ends
    unrenewed (a nova-compute that died holding it).

Every path a request names (an argument that is an absolute path) must be
under this host's instances path or one of its cluster's CSVs (or another
node's view of those through its administrative share, or a named pipe),
or under the other hosts' storage that instances move to and from
(``[agent] other_hosts_storage``): anything else is refused (403) before
the host is touched.
"""

import collections
import re
import threading
import time
import urllib.parse
import uuid

from oslo_log import log as logging

from hvc_agent import locks
from hvc_agent import serialproxy
from hvc_agent import wire
from hvc_oswin_api import constants as oswin_const
from hvc_oswin_api import paths

LOG = logging.getLogger(__name__)

# What may be called, beside the utils kinds' public methods.
HOST_METHODS = frozenset(['node_name', 'in_a_cluster', 'is_standalone_host',
                          'path_flavour', 'vm_exists_on', 'remote_path',
                          'ovs_vsctl'])
UTILS_KINDS = frozenset(['vmutils', 'hostutils', 'clusterutils',
                         'pathutils', 'vhdutils', 'smbutils', 'networkutils',
                         'livemigrationutils', 'diskutils', 'metricsutils'])
# Methods that are not calls: the event stream, files and readers have
# their own requests.
NOT_CALLS = frozenset([
    ('clusterutils', 'get_vm_owner_change_listener_v2'),
    ('clusterutils', 'stop_vm_owner_change_listeners'),
    ('pathutils', 'open')])
# How a job of each kind is cancelled: (the group's expected state after
# the cancel, for a cluster move) or None (its Hyper-V jobs stopped).
CANCELS = {
    ('clusterutils', 'live_migrate_vm'): oswin_const.CLUSTER_GROUP_ONLINE,
    ('clusterutils', 'move_offline_vm'): oswin_const.CLUSTER_GROUP_OFFLINE,
    ('livemigrationutils', 'live_migrate_vm_with_storage'): None,
}
# How long a finished job's outcome is kept for its waiter.
JOB_KEPT_SECONDS = 600
# How many owner changes are kept for listeners that fall behind.
EVENTS_KEPT = 1000
# The longest wait one request may ask for.
MAX_WAIT_SECONDS = 60
# The largest body accepted: a file piece (the client sends 8 MiB).
MAX_BODY_BYTES = 64 * 1024 * 1024
# How long the owner change listener waits before it is started again
# after a failure.
LISTENER_RESTART_SECONDS = 1
_ABSOLUTE = re.compile(r'^([\\/]|[A-Za-z]:[\\/])')
_PIPE = re.compile(r'^[\\/]{2}\.[\\/]pipe[\\/]', re.IGNORECASE)
_ROOTS_KEPT_SECONDS = 10


class Refused(Exception):
    status = '403 Forbidden'


class Malformed(Refused):
    status = '400 Bad Request'


class Unknown(Refused):
    status = '404 Not Found'


class _Job(object):

    def __init__(self, target, method, args, kwargs):
        self.target, self.method = target, method
        self.args, self.kwargs = args, kwargs
        self.done = threading.Event()
        self.outcome = None
        self.ended = None


class _Lease(object):

    def __init__(self, path, held, lease):
        self.path = path
        self.held = held
        self.lease = lease
        self.expires = time.monotonic() + lease


class Agent(object):
    """The WSGI application serving ``host`` (an ``hvc_agent.simulated.
    Simulated`` or ``hvc_agent.oswin.OsWin``) whose instances path is
    ``instances_path``; ``other_hosts_storage``: the folders of other
    hosts that instances move to and from with their disks.
    """

    def __init__(self, host, instances_path, other_hosts_storage=()):
        self.host = host
        self.instances_path = instances_path
        self.other_hosts_storage = list(other_hosts_storage)
        self.boot = uuid.uuid4().hex
        self._jobs = {}
        self._readers = {}
        self._leases = {}
        self._guard = threading.Lock()
        self._events = collections.deque(maxlen=EVENTS_KEPT)
        self._events_changed = threading.Condition(self._guard)
        self._last_event = 0
        self._stream = 0
        self._stopped = threading.Event()
        self._roots = None
        self._threads = []

    # Start and stop.

    def start(self):
        """Listen to the cluster's owner changes, and end leases no one
        renews.
        """
        if self.host.in_a_cluster():
            self._start(self._listen, 'owner changes')
        self._start(self._expire_leases, 'lock leases')

    def stop(self):
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.host.in_a_cluster():
            self.host.utils('clusterutils').stop_vm_owner_change_listeners()
        with self._guard:
            self._events_changed.notify_all()
            leases, self._leases = list(self._leases.values()), {}
            readers = [reader for _pipe, reader in
                       self._readers.values()]
            self._readers = {}
        for lease in leases:
            lease.held.__exit__(None, None, None)
        for reader in readers:
            reader.stop()
        for thread in self._threads:
            thread.join(5)

    def _start(self, target, name):
        thread = threading.Thread(target=target, daemon=True,
                                  name='hvc-agent %s' % name)
        thread.start()
        self._threads.append(thread)

    def _listen(self):
        clusterutils = self.host.utils('clusterutils')
        while not self._stopped.is_set():
            try:
                clusterutils.get_vm_owner_change_listener_v2()(self._heard)
            except Exception:
                LOG.exception('The owner change listener failed; starting '
                              'it again in %s s', LISTENER_RESTART_SECONDS)
            if self._stopped.wait(LISTENER_RESTART_SECONDS):
                return
            with self._guard:
                # Listeners must learn that changes went unheard.
                self._stream += 1
                self._events_changed.notify_all()

    def _heard(self, group_name, node):
        with self._guard:
            self._last_event += 1
            self._events.append((self._last_event, group_name, node))
            self._events_changed.notify_all()

    def _expire_leases(self):
        while not self._stopped.wait(1):
            now = time.monotonic()
            with self._guard:
                expired = [lease_id for lease_id, lease in
                           self._leases.items() if lease.expires < now]
                leases = [self._leases.pop(i) for i in expired]
            for lease in leases:
                LOG.warning('Releasing cluster lock %s: its holder did not '
                            'renew it for %d s', lease.path, lease.lease)
                lease.held.__exit__(None, None, None)

    # WSGI.

    def __call__(self, environ, start_response):
        status, body, content_type = self._answer(environ)
        start_response(status, [('Content-Type', content_type),
                                ('Content-Length', str(len(body))),
                                ('X-Hvc-Agent-Boot', self.boot)])
        return [body]

    def _answer(self, environ):
        method = environ['REQUEST_METHOD']
        parts = [p for p in environ.get('PATH_INFO', '').split('/') if p]
        query = dict(urllib.parse.parse_qsl(environ.get('QUERY_STRING',
                                                        '')))
        try:
            if parts[:1] != ['v1'] or len(parts) < 2:
                raise Unknown('no such resource: %s'
                              % environ.get('PATH_INFO'))
            handler = getattr(self, '_%s_%s' % (method.lower(), parts[1]),
                              None)
            if handler is None:
                raise Unknown('no %s %s' % (method, environ['PATH_INFO']))
            result = handler(parts[2:], query, environ)
        except Refused as e:
            LOG.warning('Refused %s %s: %s', method,
                        environ.get('PATH_INFO'), e)
            return e.status, wire.dumps({'error': {
                'kind': 'refused', 'message': str(e)}}), 'application/json'
        except Exception as e:
            return '500 Internal Server Error', wire.dumps(
                {'error': wire.encode_error(e)}), 'application/json'
        if isinstance(result, bytes):
            return '200 OK', result, 'application/octet-stream'
        return '200 OK', wire.dumps(result), 'application/json'

    @staticmethod
    def _body(environ):
        try:
            length = int(environ.get('CONTENT_LENGTH') or 0)
        except ValueError:
            raise Malformed('bad Content-Length')
        if length > MAX_BODY_BYTES:
            raise Malformed('a body of %d bytes: at most %d'
                            % (length, MAX_BODY_BYTES))
        return environ['wsgi.input'].read(length) if length else b''

    def _json(self, environ):
        try:
            return wire.loads(self._body(environ))
        except ValueError as e:
            raise Malformed('the body is not JSON: %s' % e)

    @staticmethod
    def _number(query, name, default, cast=int):
        try:
            return cast(query.get(name, default))
        except (TypeError, ValueError):
            raise Malformed('%s=%r is not a number' % (name,
                                                       query.get(name)))

    # Calls.

    def _get_host(self, parts, query, environ):
        return {'node': self.host.node_name(),
                'in_a_cluster': self.host.in_a_cluster(),
                'boot': self.boot}

    def _get_cluster(self, parts, query, environ):
        """What placement_sync's agent source needs of this cluster."""
        from placement_sync import model
        from placement_sync.sources import measure
        if parts:
            raise Unknown('no such resource: /v1/cluster/%s'
                          % '/'.join(parts))
        folder = query.get('instances_folder')
        if not folder:
            raise Malformed('no instances_folder')
        try:
            measure.instances_dir('', folder)
        except ValueError as e:
            raise Malformed('instances_folder %s' % e)
        if not self.host.in_a_cluster():
            raise Refused('%s is a standalone host, in no failover cluster: '
                          'it has no Cluster Shared Volumes'
                          % self.host.node_name())
        return {'cluster': model.as_plain(self.host.cluster_facts(folder))}

    def _callable(self, request):
        """The method a call or job request names, its arguments
        checked.
        """
        try:
            target, method = request['target'], request['method']
            args, kwargs = list(request.get('args', ())), dict(
                request.get('kwargs', {}))
        except (KeyError, TypeError, AttributeError):
            raise Malformed('a call needs target, method, args and kwargs')
        if target == 'host':
            if method not in HOST_METHODS:
                raise Refused('the host has no method %r' % (method,))
            obj = self.host
        elif target in UTILS_KINDS:
            if (not isinstance(method, str) or method.startswith('_') or
                    (target, method) in NOT_CALLS):
                raise Refused('%s.%s is not served' % (target, method))
            obj = self.host.utils(target)
        else:
            raise Refused('no utils %r' % (target,))
        func = getattr(obj, method, None)
        if not callable(func):
            raise Refused('%s has no method %r' % (target, method))
        self._check_paths(args)
        self._check_paths(list(kwargs.values()))
        return target, method, func, args, kwargs

    def _post_call(self, parts, query, environ):
        _target, _method, func, args, kwargs = self._callable(
            self._json(environ))
        return {'result': func(*args, **kwargs)}

    # Jobs.

    def _post_jobs(self, parts, query, environ):
        target, method, func, args, kwargs = self._callable(
            self._json(environ))
        job = _Job(target, method, args, kwargs)
        job_id = uuid.uuid4().hex
        with self._guard:
            self._forget_old_jobs()
            self._jobs[job_id] = job

        def run():
            try:
                job.outcome = {'result': func(*args, **kwargs)}
            except Exception as e:
                LOG.info('Job %s (%s.%s) failed: %s', job_id, target, method,
                         e)
                job.outcome = {'error': wire.encode_error(e)}
            job.ended = time.monotonic()
            job.done.set()
        threading.Thread(target=run, daemon=True,
                         name='hvc-agent job %s' % job_id).start()
        return {'job': job_id}

    def _forget_old_jobs(self):
        now = time.monotonic()
        for job_id in [i for i, j in self._jobs.items()
                       if j.ended and now - j.ended > JOB_KEPT_SECONDS]:
            del self._jobs[job_id]

    def _job(self, parts):
        with self._guard:
            job = self._jobs.get(parts[0]) if len(parts) == 1 else None
        if job is None:
            raise Unknown('no job %s' % '/'.join(parts))
        return job

    def _get_jobs(self, parts, query, environ):
        job = self._job(parts)
        job.done.wait(min(self._number(query, 'wait', 0, float),
                          MAX_WAIT_SECONDS))
        if not job.done.is_set():
            return {'done': False}
        return dict(job.outcome, done=True)

    def _delete_jobs(self, parts, query, environ):
        job = self._job(parts)
        if job.done.is_set():
            return {}
        key = (job.target, job.method)
        if key not in CANCELS:
            raise Refused('%s.%s cannot be cancelled' % key)
        vm_name = job.args[0] if job.args else job.kwargs.get('vm_name')
        if CANCELS[key] is None:
            self.host.utils('vmutils').stop_vm_jobs(vm_name)
        else:
            self.host.utils('clusterutils').cancel_cluster_group_migration(
                vm_name, CANCELS[key])
        return {}

    # Events.

    def _get_events(self, parts, query, environ):
        wait = min(self._number(query, 'wait', 0, float), MAX_WAIT_SECONDS)
        after = query.get('after')
        after = None if after is None else self._number(query, 'after', 0)
        deadline = time.monotonic() + wait
        with self._guard:
            stream = self._stream
            while (after is not None and self._last_event <= after and
                   self._stream == stream and not self._stopped.is_set()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._events_changed.wait(left)
            events = [e for e in self._events
                      if after is not None and e[0] > after]
            first = (self._events[0][0] if self._events
                     else self._last_event + 1)
            return {'boot': '%s.%d' % (self.boot, self._stream),
                    'first': first, 'last': self._last_event,
                    'events': events}

    # Files.

    def _get_files(self, parts, query, environ):
        path = self._path(query)
        return self.host.utils('pathutils').read_file(
            path, self._number(query, 'offset', 0),
            self._number(query, 'length', -1))

    def _put_files(self, parts, query, environ):
        path = self._path(query)
        self.host.utils('pathutils').write_file(
            path, self._body(environ), self._number(query, 'offset', 0))
        return {}

    def _path(self, query):
        path = query.get('path')
        if not path:
            raise Malformed('no path')
        self._check_paths([path])
        return path

    # Serial port readers.

    def _post_pipes(self, parts, query, environ):
        if parts:
            if len(parts) != 2 or parts[1] != 'flush':
                raise Unknown('no such reader request')
            self._reader(parts[:1]).flush_log_file()
            return {}
        request = self._json(environ)
        pipe, log_file = request.get('pipe'), request.get('log_file')
        if not pipe or not log_file:
            raise Malformed('a reader needs pipe and log_file')
        self._check_paths([pipe, log_file])
        console = request.get('console')
        if console is not None:
            try:
                serialproxy.parse_port_range(console['port_range'])
                if not console['address']:
                    raise ValueError('no address')
            except (KeyError, TypeError, ValueError) as e:
                raise Malformed('a console needs an address and a '
                                'port_range FIRST:LAST: %s' % e)
        with self._guard:
            # One reader per pipe: a client that restarts it replaces it.
            old = [i for i, (p, _r) in self._readers.items() if p == pipe]
            stale = [self._readers.pop(i)[1] for i in old]
        for reader in stale:
            reader.stop()
        reader = self.host.named_pipe_handler(pipe, log_file, console)
        reader.start()
        reader_id = uuid.uuid4().hex
        with self._guard:
            self._readers[reader_id] = (pipe, reader)
        return {'reader': reader_id, 'console': reader.console_address()}

    def _reader(self, parts):
        with self._guard:
            entry = self._readers.get(parts[0]) if len(parts) == 1 else None
        if entry is None:
            raise Unknown('no reader %s' % '/'.join(parts))
        return entry[1]

    def _delete_pipes(self, parts, query, environ):
        with self._guard:
            entry = self._readers.pop(parts[0], None) if parts else None
        if entry is not None:
            entry[1].stop()
        return {}

    # Cluster locks.

    def _post_locks(self, parts, query, environ):
        request = self._json(environ)
        path = request.get('path')
        if not path:
            raise Malformed('a lock needs a path')
        self._check_paths([path])
        wait = min(float(request.get('wait', 0)), MAX_WAIT_SECONDS)
        lease = float(request.get('lease', 60))
        held = self.host.cluster_lock(path, timeout=wait)
        try:
            held.__enter__()
        except locks.LockBusy:
            return {'lock': None}
        lease_id = uuid.uuid4().hex
        with self._guard:
            self._leases[lease_id] = _Lease(path, held, lease)
        return {'lock': lease_id}

    def _put_locks(self, parts, query, environ):
        with self._guard:
            lease = self._leases.get(parts[0]) if parts else None
            if lease is None:
                raise Unknown('no lock %s: its lease ended'
                              % '/'.join(parts))
            lease.expires = time.monotonic() + lease.lease
        return {}

    def _delete_locks(self, parts, query, environ):
        with self._guard:
            lease = self._leases.pop(parts[0], None) if parts else None
        if lease is not None:
            lease.held.__exit__(None, None, None)
        return {}

    # Paths.

    def _check_paths(self, values):
        for value in values:
            if isinstance(value, (list, tuple)):
                self._check_paths(value)
            elif isinstance(value, dict):
                self._check_paths(list(value.values()))
            elif isinstance(value, str) and _ABSOLUTE.match(value):
                self._check_path(value)

    def _check_path(self, path):
        if _PIPE.match(path):
            return
        local = self.host.local_path(path)
        for fresh in (False, True):
            if any(paths.is_within(local, root)
                   for root in self._storage_roots(fresh)):
                return
        raise Refused('%s is outside this host\'s instances path, its '
                      'Cluster Shared Volumes and [agent] '
                      'other_hosts_storage' % path)

    def _storage_roots(self, fresh):
        """The instances path, the other hosts' storage and the CSVs'
        mount paths (looked up again at most every few seconds, or when
        ``fresh``).
        """
        now = time.monotonic()
        if fresh or self._roots is None or now - self._roots[0] > \
                _ROOTS_KEPT_SECONDS:
            roots = [self.instances_path] if self.instances_path else []
            roots += self.other_hosts_storage
            if self.host.in_a_cluster():
                roots += [v.path for v in self.host.utils(
                    'clusterutils').list_shared_volumes()]
            self._roots = (now, roots)
        return self._roots[1]
