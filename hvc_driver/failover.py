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

"""The threads that keep nova following the failover cluster on one node.

- The listener: the cluster's owner change notifications (os-win's
  ``ClusterUtils.get_vm_owner_change_listener_v2``; the simulated cluster
  delivers the same), which every node hears for every VM of the cluster.
  A VM that moved here, or away from here, is queued; nothing else is done
  on the listener's thread. It starts with the driver (``init_host``), so
  that no change is missed, and is restarted if it fails (a check then
  looks for what it missed).
- The workers (``[hyperv_cluster] failover_workers``): they take the queued
  VMs and reconcile each (``ClusterOps.reconcile``). A VM is queued once
  however many changes it had (the newest owner is read when it is
  handled), and one that changes while it is handled is handled again.
  What fails, or what nova is busy with, is retried after 1, 2, 4 ... s,
  at most ``cluster_check_interval`` apart, until it succeeds. They start
  once nova-compute has cleaned up after evacuations
  (``process_instances_at_startup``), with a check that reclaims what the
  cluster moved here while nova-compute was down.
- The periodic check, every ``cluster_check_interval`` seconds: finds what
  a lost notification missed, and makes the compute service follow the
  node's state.

Plain daemon threads: green threads when nova-compute runs on eventlet,
native ones in nova's default threading mode. ``stop`` ends them.
"""

import threading
import time

from oslo_log import log as logging

import nova.conf

from hvc_driver import clusterops

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

# Queued work that is not a VM: the periodic check, the node's state.
CHECK = ('check',)
NODE_STATE = ('node state',)
# ... and the migrations of an instance whose live migration nova aborted
# (moves_of(instance uuid)).
_MOVES_OF = 'moves of'
# Seconds before a listener that failed is started again; doubled for
# each failure in a row (a cluster service that stays down), at most
# cluster_check_interval apart. A listener that ran this long before it
# failed starts the count again.
LISTENER_RESTART_DELAY = 0.1
LISTENER_HEALTHY_SECONDS = 60
# Seconds stop waits for each thread.
STOP_TIMEOUT = 5


def moves_of(instance_uuid):
    return (_MOVES_OF, instance_uuid)


class Follower(object):

    def __init__(self, hyperv, clusterops_):
        self._hyperv = hyperv
        self._ops = clusterops_
        self._threads = []
        self._stopped = threading.Event()
        self._backlog = None
        # The ClusterUtils whose listener runs (init_host may make others).
        self._listening = None

    def start_listening(self):
        """Listen to the cluster; what is heard waits for the workers."""
        self.stop()
        self._stopped = threading.Event()
        self._backlog = _Backlog()
        self._attempts = {}
        self._listening = self._hyperv.clusterutils
        self._start(self._listen, 'listener')

    def start_following(self):
        """Start the workers and the periodic check, with a check now."""
        for number in range(CONF.hyperv_cluster.failover_workers):
            self._start(self._work, 'worker %d' % number)
        self._start(self._periodic, 'periodic check')
        self.submit(CHECK)

    def stop(self):
        self._stopped.set()
        if self._backlog is not None:
            self._backlog.close()
        if self._listening is not None:
            try:
                self._listening.stop_vm_owner_change_listeners()
            except Exception:
                LOG.exception('Stopping the owner change listener failed')
            self._listening = None
        for thread in self._threads:
            thread.join(STOP_TIMEOUT)
        self._threads = []

    def submit(self, key, delay=0):
        """Reconcile ``key`` (a VM name, CHECK or NODE_STATE) in ``delay``
        seconds, or sooner if it is queued sooner already.
        """
        if self._backlog is not None:
            self._backlog.put(key, delay)

    def _start(self, target, name):
        thread = threading.Thread(
            target=target, daemon=True,
            name='hyperv-cluster %s of %s' % (name, self._hyperv.node))
        thread.start()
        self._threads.append(thread)

    def _listen(self):
        clusterutils = self._listening
        failures = 0
        while not self._stopped.is_set():
            started = time.monotonic()
            try:
                listener = clusterutils.get_vm_owner_change_listener_v2()
                listener(self._heard)
                if not self._stopped.is_set():
                    LOG.warning('The failover cluster\'s owner change '
                                'listener of node %s ended: moves are found '
                                'by the periodic check only',
                                self._hyperv.node)
                return
            except Exception:
                if time.monotonic() - started > LISTENER_HEALTHY_SECONDS:
                    failures = 0
                delay = min(LISTENER_RESTART_DELAY * 2 ** failures,
                            CONF.hyperv_cluster.cluster_check_interval)
                failures += 1
                LOG.exception('The failover cluster\'s owner change '
                              'listener of node %s failed (the cluster '
                              'service restarted?); starting it again in '
                              '%.1f s', self._hyperv.node, delay)
            if self._stopped.wait(delay):
                return
            # Whatever changed meanwhile was not heard.
            self.submit(CHECK)

    def _heard(self, vm_name, new_node):
        """A VM's group has a new owner node. Never raises: os-win's
        listener would sleep 2 s after it.
        """
        try:
            if self._hyperv.is_this_node(new_node):
                self.submit(vm_name)
            elif self._ops.served_here(vm_name):
                self.submit(vm_name)
                # VMs leaving may be a drain of this node.
                self.submit(NODE_STATE)
        except Exception:
            LOG.exception('Handling the move of %s to node %s failed',
                          vm_name, new_node)

    def _work(self):
        while True:
            key = self._backlog.get()
            if key is None:
                return
            retry_in = None
            try:
                if key == CHECK:
                    for vm_name in self._ops.check():
                        self.submit(vm_name)
                elif key == NODE_STATE:
                    self._ops.sync_node_state()
                elif key[0] == _MOVES_OF:
                    self._ops.end_moves_of(key[1])
                else:
                    self._ops.reconcile(key)
                self._attempts.pop(key, None)
            except clusterops.NotYet as e:
                retry_in = self._retry_delay(key)
                LOG.info('Not following %s yet: %s; looking again in %d s',
                         key, e, retry_in)
            except Exception as e:
                retry_in = self._retry_delay(key)
                LOG.warning('Nova does not agree with the failover cluster '
                            'about %s yet: %s; trying again in %d s', key, e,
                            retry_in, exc_info=self._attempts[key] == 1)
            finally:
                self._backlog.done(key, retry_in)

    def _retry_delay(self, key):
        attempts = self._attempts[key] = self._attempts.get(key, 0) + 1
        return min(2 ** (attempts - 1),
                   CONF.hyperv_cluster.cluster_check_interval)

    def _periodic(self):
        while not self._stopped.wait(
                CONF.hyperv_cluster.cluster_check_interval):
            self.submit(CHECK)


class _Backlog(object):
    """Keys to handle, each queued once, each when it is due; a key put
    while it is being handled is handled again after.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._due = {}
        self._busy = set()
        self._again = set()
        self._closed = False

    def put(self, key, delay=0):
        with self._cond:
            if key in self._busy:
                self._again.add(key)
                return
            due = time.monotonic() + delay
            self._due[key] = min(self._due.get(key, due), due)
            self._cond.notify()

    def get(self):
        """The next key that is due (it is busy until done); None once
        closed.
        """
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                if self._due:
                    key = min(self._due, key=self._due.get)
                    wait = self._due[key] - now
                    if wait <= 0:
                        del self._due[key]
                        self._busy.add(key)
                        return key
                else:
                    wait = None
                self._cond.wait(wait)
            return None

    def done(self, key, retry_in=None):
        with self._cond:
            self._busy.discard(key)
            if key in self._again:
                self._again.discard(key)
                retry_in = 0
        if retry_in is not None:
            self.put(key, retry_in)

    def close(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()
