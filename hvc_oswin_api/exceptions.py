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

"""The os-win exception classes the driver tells apart, with os-win's
names, hierarchy and ``msg_fmt`` keyword formatting.

Only the classes the driver or the simulated cluster name are here: an
os-win exception of any other class becomes the class of its nearest
ancestor that is (``translate``), so nothing escapes as an unknown type.
"""


class OSWinException(Exception):
    msg_fmt = 'An exception has been encountered.'

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        self.error_code = kwargs.get('error_code')
        self.message = message or self.msg_fmt % kwargs
        super().__init__(self.message)


class NotFound(OSWinException):
    msg_fmt = 'Resource could not be found: %(resource)s'


class HyperVException(OSWinException):
    pass


class HyperVVMNotFoundException(NotFound, HyperVException):
    msg_fmt = 'VM not found: %(vm_name)s'


class HyperVvNicNotFound(NotFound, HyperVException):
    msg_fmt = 'vNic not found: %(vnic_name)s'


class HyperVPortNotFoundException(NotFound, HyperVException):
    msg_fmt = 'Switch port not found: %(port_name)s'


class HyperVvSwitchNotFound(NotFound, HyperVException):
    msg_fmt = 'vSwitch not found: %(vswitch_name)s.'


class HyperVClusterException(HyperVException):
    pass


class ClusterException(OSWinException):
    pass


class ClusterObjectNotFound(NotFound, ClusterException):
    pass


class ClusterGroupMigrationFailed(ClusterException):
    msg_fmt = ('Cluster group %(group_name)s was not moved: wanted state '
               '%(expected_state)s on %(expected_node)s, it is '
               '%(group_state)s on %(owner_node)s.')


class ClusterGroupMigrationTimeOut(ClusterGroupMigrationFailed):
    msg_fmt = ('Moving cluster group %(group_name)s took longer than '
               '%(time_elapsed)0.3fs.')


class SMBException(OSWinException):
    pass


class VHDException(OSWinException):
    pass


class x_wmi(Exception):  # noqa: N801 (os-win's and the wmi module's name)
    """A raw WMI error (``wmi.x_wmi`` on Windows)."""

    def __init__(self, info='', com_error=None):
        super().__init__(info)
        self.info = info
        self.com_error = com_error


def translate(error):
    """The exception of this module for an os-win (or WMI) ``error``.

    The class is the one named like the nearest class in ``error``'s
    hierarchy; its message and attributes are ``error``'s. Returns None for
    an error that is neither os-win's nor WMI's (OSError, say).
    """
    for cls in type(error).__mro__:
        ours = _BY_NAME.get(cls.__name__)
        if ours is not None:
            break
    else:
        return None
    translated = ours.__new__(ours)
    Exception.__init__(translated, *error.args)
    translated.__dict__.update(vars(error))
    translated.kwargs = getattr(error, 'kwargs', {})
    translated.error_code = getattr(error, 'error_code', None)
    translated.message = getattr(error, 'message', str(error))
    return translated


_BY_NAME = {cls.__name__: cls for cls in (
    OSWinException, NotFound, HyperVException, HyperVVMNotFoundException,
    HyperVvNicNotFound, HyperVPortNotFoundException, HyperVvSwitchNotFound,
    HyperVClusterException,
    ClusterException, ClusterObjectNotFound, ClusterGroupMigrationFailed,
    ClusterGroupMigrationTimeOut, SMBException, VHDException, x_wmi)}


def by_name(name):
    """The class of this module named ``name`` (OSWinException for a name
    it does not have).
    """
    return _BY_NAME.get(name, OSWinException)
