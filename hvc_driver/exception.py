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

"""Nova exceptions of the Hyper-V cluster driver, and the translation of
os-win's errors into them.
"""

import functools
import inspect

from nova import exception

from hvc_oswin_api import exceptions as os_win_exc

# What the Hyper-V seam raises: os-win's exceptions and raw WMI errors (as
# hvc_oswin_api names them), and plain OSError from PathUtils (and IOError,
# which is OSError, from PathUtils.copy).
OSWIN_ERRORS = (os_win_exc.OSWinException, os_win_exc.x_wmi, OSError)
OSWIN_NOT_FOUND = (os_win_exc.HyperVVMNotFoundException,
                   os_win_exc.ClusterObjectNotFound)


class HyperVOperationFailed(exception.NovaException):
    msg_fmt = 'Hyper-V on node %(node)s failed to %(operation)s: %(reason)s'


class UnsupportedVifType(exception.NovaException):
    msg_fmt = ('Port %(port_id)s has VIF type %(vif_type)s; a Hyper-V '
               'cluster node wires only ports of type %(supported)s.')


class OvsVswitchNotConfigured(exception.NovaException):
    msg_fmt = ('Port %(port_id)s is an Open vSwitch port; a Hyper-V cluster '
               'node wires it only when [hyperv_cluster] vswitch_name names '
               'the Hyper-V virtual switch of its OVS bridge.')


class UnsupportedVolumeType(exception.NovaException):
    msg_fmt = ('Volume type %(driver_volume_type)s cannot be attached on a '
               'Hyper-V cluster node; only %(supported)s volumes survive a '
               'failover to another node.')


class HostPowerActionRefused(exception.NovaException):
    msg_fmt = ('Host power action %(action)s refused: a node of a Hyper-V '
               'failover cluster is drained and restarted through the '
               'cluster (Suspend-ClusterNode), not through nova.')


class InstanceOnAnotherNode(exception.NovaException):
    msg_fmt = ('The failover cluster runs %(vm_name)s on node %(owner)s, '
               'not on %(node)s where nova placed it; it was not touched.')


class InstanceMovedDuringDelete(InstanceOnAnotherNode):
    msg_fmt = ('The failover cluster moved %(vm_name)s away from %(node)s '
               'while it was being deleted there; it is no longer '
               'clustered and may run on another node. Its disks were kept '
               '(and are kept by later deletes until the file '
               'MOVED-WHILE-DELETED.txt in its directory is removed).')


class InstanceDirectoryInUse(exception.InstanceExists):
    msg_fmt = ('The directory %(path)s of %(vm_name)s holds '
               'MOVED-WHILE-DELETED.txt: a VM that left its node while being '
               'deleted may still run from the disks there. Nothing was '
               'touched; remove the file once that VM is dealt with.')


class InstanceNameNotAFolder(exception.Invalid):
    msg_fmt = ('The instance name %(vm_name)r cannot name its directory: it '
               '%(reason)s (nova\'s instance_name_template makes it; keep '
               'user input such as the display name out of it).')


class DiskAllocationElsewhere(exception.NovaException):
    msg_fmt = ('The disks of instance %(instance_uuid)s cannot go where '
               'placement allocated them: %(reason)s.')


class DifferencingImageRefused(exception.ImageUnacceptable):
    msg_fmt = ('Image %(image_id)s is unacceptable: it is a differencing '
               'virtual disk (parent %(parent)s); only standalone VHD and '
               'VHDX images are booted.')


def translate_oswin_errors(operation, instance_not_found=True):
    """os-win errors become nova exceptions.

    A VM that Hyper-V does not know becomes InstanceNotFound (unless
    ``instance_not_found`` is False: destroy must never say that, nova
    would take the instance for gone); any other os-win error, raw WMI
    error or OSError becomes HyperVOperationFailed naming the node.
    """
    def decorator(func):
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(self, *args, **kwargs):
            try:
                return func(self, *args, **kwargs)
            except OSWIN_NOT_FOUND as e:
                instance = signature.bind(
                    self, *args, **kwargs).arguments.get('instance')
                if instance is None or not instance_not_found:
                    raise HyperVOperationFailed(
                        node=self._hyperv.node, operation=operation,
                        reason=e) from e
                raise exception.InstanceNotFound(
                    instance_id=instance.uuid) from e
            except OSWIN_ERRORS as e:
                raise HyperVOperationFailed(
                    node=self._hyperv.node, operation=operation,
                    reason=e) from e
        return wrapper
    return decorator


class InstanceNotRestarted(exception.NovaException):
    msg_fmt = ('The failover cluster could not restart %(vm_name)s after it '
               'left host %(host)s: its cluster group is Failed on node '
               '%(node)s, where it needs %(need_mb)s MB of memory and '
               '%(free_mb)s MB are free. Start it once a node has room '
               '(openstack server reboot --hard).')


class AllocationNotChanged(exception.NovaException):
    msg_fmt = ('Placement refused to change the allocation of instance '
               '%(instance_uuid)s on node %(node)s (%(change)s): '
               '%(reason)s.')


class EvacuationOutOfItsCluster(exception.NovaException):
    msg_fmt = ('Instance %(instance_uuid)s is not evacuated to %(host)s: '
               'its VM is clustered in failover cluster %(cluster)s, which '
               'restarts it on one of its own nodes; evacuate it to a node '
               'of %(cluster)s (or leave it to the cluster).')
