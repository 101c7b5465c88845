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

"""nova's evacuation to a node of the instance's cluster, whose failover
cluster has restarted its VM already (or will): the VM is adopted, never
built a second time, and its disks on the shared storage are kept.

Nova evacuates an instance whose host is down (``openstack server
evacuate``); HyperVClusterKeepCSVFilter keeps it to the nodes of its
cluster. Here nova's rebuild adopts the VM the cluster runs, moves it here
first if the cluster runs it on another node, and builds a VM around the
instance's disks only if the cluster has none.
"""

from oslo_log import log as logging

from nova.compute import task_states
import nova.conf
from nova import exception

from hvc_driver import exception as hvc_exc
from hvc_driver import hyperv as seam
from hvc_driver import layout
from hvc_driver import placement
from hvc_driver import vmops as vmops_module
import hvc_names

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF


class EvacuateOps(seam.UsesHyperV):

    def __init__(self, hyperv, vmops, volumeops, hostops, instance_layout):
        self._hyperv = hyperv
        self._vmops = vmops
        self._volumeops = volumeops
        self._hostops = hostops
        self._layout = instance_layout
        self._served = vmops.served_vms

    def instance_on_disk(self, instance):
        """Whether the instance's disks are on the cluster's storage (what
        an evacuation to this node keeps).
        """
        try:
            vmops_module.find_root_disk(self._hyperv, self._layout, instance)
        except exception.DiskNotFound:
            return False
        return True

    def adoptable(self, instance):
        """Whether a VM of that name here is the instance itself, which nova
        records on another host (a failover; what an evacuation here
        adopts), rather than a VM in the way.
        """
        return bool(instance.host) and instance.host != self._hyperv.host

    def release_disk_claimed_elsewhere(self, context, instance):
        """Drop the DISK_GB a refused evacuation claimed beside the
        instance's own. Nova removes what it claimed on this node's
        provider itself; the instance's allocations are then as before.
        """
        placement.release_disk_beside(
            context, instance,
            instance.system_metadata.get(hvc_names.CSV_PROVIDER_KEY),
            self._hyperv.node)

    @hvc_exc.translate_oswin_errors('evacuate an instance')
    def evacuate(self, context, instance, image_meta, network_info,
                 block_device_info, bdms, detach_block_devices,
                 attach_block_devices):
        """nova's evacuation (its host is down) to this node: the VM the
        cluster runs is adopted here, moved here first through the cluster
        if it runs on another node; only if the cluster has no VM of it is
        one built again around its disks on the shared storage. Never a
        second VM, never new disks.
        """
        vm_name = instance.name
        with self._layout.instance_lock(vm_name):
            owner = self._hyperv.owner_of(vm_name)
            instance.task_state = task_states.REBUILD_SPAWNING
            instance.save(expected_task_state=[task_states.REBUILDING])
            if owner is None and not self._vmutils.vm_exists(vm_name):
                self._rebuild_from_disks(context, instance, image_meta,
                                         network_info, bdms,
                                         detach_block_devices,
                                         attach_block_devices)
            else:
                if owner is None:
                    # Here, but it lost its group: clustered again.
                    self._vmops.cluster(vm_name)
                elif not self._hyperv.is_this_node(owner):
                    self._move_here(vm_name, owner)
                self._volumeops.map_shares(block_device_info)
                LOG.info('Evacuation of %s adopts its VM, which the failover '
                         'cluster runs on this node %s', vm_name,
                         self._hyperv.node, instance=instance)
            self._vmops.take_over(instance, network_info)
            if not self._vmops.is_running(instance):
                self._vmops.power_on(instance)
            self._served.add(vm_name, instance.uuid)
            # Nova's evacuation claimed this node and kept the old one's
            # claim until that node's nova-compute starts again: the VM
            # does not run there.
            placement.move_node_resources(context, instance,
                                          self._hyperv.node,
                                          self._hostops.node_uuid())

    def _move_here(self, vm_name, owner):
        LOG.info('Moving %s from node %s to this node %s through the '
                 'failover cluster', vm_name, owner, self._hyperv.node)
        self._hyperv.move_vm_here(
            vm_name, CONF.hyperv_cluster.live_migration_timeout or None)

    def _rebuild_from_disks(self, context, instance, image_meta,
                            network_info, bdms, detach_block_devices,
                            attach_block_devices):
        vm_name = instance.name
        if self._hyperv.pathutils.exists(self._layout.moved_mark(vm_name)):
            # A VM that left its node while being deleted may run from them.
            raise hvc_exc.InstanceDirectoryInUse(
                vm_name=vm_name, path=self._layout.instance_dir(vm_name))
        # DiskNotFound without a root disk.
        vmops_module.find_root_disk(self._hyperv, self._layout, instance)
        disks = self._layout.disks(vm_name)
        # As nova's own evacuation: the volumes attached anew for this host.
        detach_block_devices(context, bdms)
        block_device_info = attach_block_devices(context, instance, bdms)
        LOG.info('The failover cluster has no VM of %s: building it again '
                 'on this node %s around its disks %s', vm_name,
                 self._hyperv.node, ', '.join(disks), instance=instance)
        try:
            self._vmops.build_vm(
                instance, self._vmops.vm_generation(image_meta),
                self._layout.instance_dir(vm_name), disks,
                self._layout.existing_file(vm_name, layout.CONFIG_DRIVE),
                network_info,
                block_device_info)
        except Exception:
            self._vmops.destroy(instance, destroy_disks=False,
                                network_info=network_info)
            raise
