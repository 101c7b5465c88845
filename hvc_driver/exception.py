"""Nova exceptions of the Hyper-V cluster driver."""

from nova import exception


class HyperVOperationFailed(exception.NovaException):
    msg_fmt = 'Hyper-V on node %(node)s failed to %(operation)s: %(reason)s'


class UnsupportedVifType(exception.NovaException):
    msg_fmt = ('Port %(port_id)s has VIF type %(vif_type)s; a Hyper-V '
               'cluster node wires only ports of type %(supported)s.')


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
