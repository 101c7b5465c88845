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

"""What one node of the cluster offers: VCPU and MEMORY_MB, never DISK_GB.

The instances' disks live on Cluster Shared Volumes that every node of the
cluster shares. placement_sync publishes each CSV as one sharing provider
with DISK_GB; a node that reported DISK_GB as well would count the same
bytes once per node (what compute-hyperv did). So the compute node
provider carries only the node's own VCPU and MEMORY_MB.

A standalone Hyper-V host (``[hyperv_cluster] standalone_host``) shares
nothing: it reports the disk that holds ``instances_path`` as its own
DISK_GB too.
"""

import functools

import os_resource_classes as orc
from oslo_log import log as logging
from oslo_serialization import jsonutils
from oslo_utils import timeutils
from oslo_utils import units

from nova.compute import utils as compute_utils
import nova.conf
from nova import exception
from nova.objects import fields as obj_fields
from nova.virt import driver
import nova.virt.node

from hvc_driver import exception as hvc_exc

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

HYPERVISOR_TYPE = 'hyperv'
# Win32_Processor.Architecture codes.
_WMI_ARCHITECTURES = {
    0: obj_fields.Architecture.I686,
    5: obj_fields.Architecture.ARMV7,
    9: obj_fields.Architecture.X86_64,
    12: obj_fields.Architecture.AARCH64,
}


def _timed(call):
    """Log (debug) how long the driver took for ``call`` of a node: nova
    calls these under its resource tracker's lock, which every claim of
    the node waits for (tools/build_phases.py reads this).
    """
    def decorator(func):
        @functools.wraps(func)
        def wrapper(self, *args, **kwargs):
            with timeutils.StopWatch() as watch:
                result = func(self, *args, **kwargs)
            LOG.debug('The driver\'s %s of node %s took %.3f s', call,
                      self.node, watch.elapsed())
            return result
        return wrapper
    return decorator


class HostOps(object):
    """The resources of the node a driver instance plays."""

    def __init__(self, hyperv):
        self._hyperv = hyperv

    @property
    def node(self):
        return self._hyperv.node

    def node_uuid(self):
        # Nova's persistent local identity of this compute node
        # ($state_path/compute_id): one per nova-compute service.
        return nova.virt.node.get_local_node_uuid()

    def _check_node(self, nodename):
        if nodename != self.node:
            raise exception.NovaException(
                'node %s is not the node this nova-compute service plays '
                '(%s)' % (nodename, self.node))

    def _cpus(self):
        cpus = self._hyperv.hostutils.get_cpus_info()
        logical = sum(c['NumberOfLogicalProcessors'] for c in cpus)
        return cpus, logical

    def _memory_mb(self):
        total_kb, free_kb = self._hyperv.hostutils.get_memory_info()
        return total_kb // 1024, free_kb // 1024

    def _local_disk_gb(self):
        """A standalone host's disk of instances_path, in whole GB (total,
        used); (0, 0) on a cluster node, whose disks are on the CSVs.
        """
        if not self._hyperv.standalone:
            return 0, 0
        total, free = self._hyperv.diskutils.get_disk_capacity(
            CONF.instances_path)
        return total // units.Gi, (total - free) // units.Gi

    @hvc_exc.translate_oswin_errors('get the hypervisor version')
    def hypervisor_version(self):
        # As compute-hyperv reported it: 10.0.x is 10000.
        major, minor = self._hyperv.hostutils.get_windows_version().split(
            '.')[:2]
        return int(major) * 1000 + int(minor)

    def _cpu_info(self, cpus, logical):
        first = cpus[0]
        cores = sum(c['NumberOfCores'] for c in cpus)
        return {
            'vendor': first['Manufacturer'],
            'model': first['Name'],
            'arch': _WMI_ARCHITECTURES.get(first['Architecture'],
                                           obj_fields.Architecture.X86_64),
            'features': [],
            'topology': {'sockets': len(cpus),
                         'cores': cores // len(cpus),
                         'threads': max(1, logical // max(1, cores))},
        }

    @_timed('get_available_resource')
    @hvc_exc.translate_oswin_errors('report the node\'s resources')
    def get_available_resource(self, nodename):
        """The node's figures, as the hypervisor API shows them.

        local_gb is 0 on a cluster node: instance disks are on the CSVs,
        which placement tracks as sharing providers, not on the node.
        Nova's resource tracker still counts each instance's disk against
        local_gb (its free_disk_gb goes below 0), so a measured
        disk_available_least (0) would be "more disk than the database
        expected" to the scheduler on every request: a cluster node
        reports none (None).
        """
        self._check_node(nodename)
        cpus, vcpus = self._cpus()
        total_mb, free_mb = self._memory_mb()
        disk_gb, disk_used_gb = self._local_disk_gb()
        cpu_info = self._cpu_info(cpus, vcpus)
        return {
            'uuid': self.node_uuid(),
            'vcpus': vcpus,
            'memory_mb': total_mb,
            'memory_mb_used': total_mb - free_mb,
            'local_gb': disk_gb,
            'local_gb_used': disk_used_gb,
            'disk_available_least': (disk_gb - disk_used_gb
                                     if self._hyperv.standalone else None),
            # Nova's resource tracker counts the instances' vCPUs itself.
            'vcpus_used': 0,
            'hypervisor_type': HYPERVISOR_TYPE,
            'hypervisor_version': self.hypervisor_version(),
            'hypervisor_hostname': nodename,
            'cpu_info': jsonutils.dumps(cpu_info),
            'supported_instances': [
                (cpu_info['arch'], obj_fields.HVType.HYPERV,
                 obj_fields.VMMode.HVM)],
            'numa_topology': None,
        }

    @_timed('update_provider_tree')
    @hvc_exc.translate_oswin_errors('report the node\'s inventory')
    def update_provider_tree(self, provider_tree, nodename,
                             allocations=None):
        """VCPU and MEMORY_MB of this node (and DISK_GB of a standalone
        host); whatever else is there stays.

        update_inventory replaces the node's whole inventory, so a DISK_GB
        left by another driver goes. Traits and aggregates are not touched:
        nova adds the capability traits, placement_sync the cluster's
        aggregate.
        """
        self._check_node(nodename)
        _cpus, vcpus = self._cpus()
        total_mb, _free_mb = self._memory_mb()
        ratios = driver.ComputeDriver._get_allocation_ratios(
            provider_tree.data(nodename).inventory)
        inventory = {
            orc.VCPU: {
                'total': vcpus,
                'min_unit': 1,
                'max_unit': vcpus,
                'step_size': 1,
                'allocation_ratio': ratios[orc.VCPU],
                'reserved': CONF.reserved_host_cpus,
            },
            orc.MEMORY_MB: {
                'total': total_mb,
                'min_unit': 1,
                'max_unit': total_mb,
                'step_size': 1,
                'allocation_ratio': ratios[orc.MEMORY_MB],
                'reserved': CONF.reserved_host_memory_mb,
            },
        }
        disk_gb, _used_gb = self._local_disk_gb()
        if disk_gb:
            inventory[orc.DISK_GB] = {
                'total': disk_gb,
                'min_unit': 1,
                'max_unit': disk_gb,
                'step_size': 1,
                'allocation_ratio': ratios[orc.DISK_GB],
                'reserved': compute_utils.convert_mb_to_ceil_gb(
                    CONF.reserved_host_disk_mb),
            }
        provider_tree.update_inventory(nodename, inventory)

    @hvc_exc.translate_oswin_errors('find the host\'s IP address')
    def get_host_ip_addr(self):
        if CONF.my_ip:
            return CONF.my_ip
        ips = self._hyperv.hostutils.get_local_ips()
        return ips[0] if ips else None
