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

"""What crosses the wire between nova-compute and its agent: JSON values
that keep what the seam returns, and errors that keep their class.

The seam's calls take and return plain values, tuples, sets (os-win's
``networkutils.get_vnic_ids``), dicts with string keys, bytes (rarely) and
``cluster_wmi.SharedVolume`` records; JSON alone would turn tuples and
sets into lists and lose the records, so those are tagged.
An error crosses as its class name, arguments and attributes: on the
client it is raised again as the same ``hvc_oswin_api.exceptions`` class,
OSError (with its errno, so FileExistsError stays FileExistsError) or
ProcessExecutionError; anything else becomes an AgentError that says
what the agent raised.
"""

import base64
import dataclasses
import json

from hvc_oswin_api import cluster_wmi
from hvc_oswin_api import exceptions as oswin_exc

_TUPLE = '__tuple__'
_SET = '__set__'
_BYTES = '__bytes__'
_RECORD = '__record__'
# The records that cross, by name.
_RECORDS = {'SharedVolume': cluster_wmi.SharedVolume}


class AgentError(oswin_exc.HyperVException):
    """The agent failed a call with an error the seam does not name, or
    could not be asked at all: to the driver, a Hyper-V call that
    failed.
    """


class AgentUnreachable(AgentError):
    """No answer from the agent: down, restarting, or cut off."""


class AgentRefused(AgentError):
    """The agent refused the request itself (a path outside its storage,
    a method it does not serve, a malformed request).
    """


def encode(value):
    if isinstance(value, tuple) and not hasattr(value, '_fields'):
        return {_TUPLE: [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, (set, frozenset)):
        # Sorted: the same set is the same bytes.
        return {_SET: sorted((encode(v) for v in value), key=json.dumps)}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return {_BYTES: base64.b64encode(bytes(value)).decode('ascii')}
    if dataclasses.is_dataclass(value) and type(value).__name__ in _RECORDS:
        return {_RECORD: type(value).__name__,
                'fields': {f.name: encode(getattr(value, f.name))
                           for f in dataclasses.fields(value)}}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError('%r cannot cross the wire' % (value,))


def decode(value):
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if _TUPLE in value:
            return tuple(decode(v) for v in value[_TUPLE])
        if _SET in value:
            return {decode(v) for v in value[_SET]}
        if _BYTES in value:
            return base64.b64decode(value[_BYTES])
        if _RECORD in value:
            return _RECORDS[value[_RECORD]](
                **{k: decode(v) for k, v in value['fields'].items()})
        return {k: decode(v) for k, v in value.items()}
    return value


def dumps(value):
    return json.dumps(encode(value)).encode('utf-8')


def loads(data):
    return decode(json.loads(data))


def encode_error(error):
    """``error`` as the client raises it again."""
    if isinstance(error, OSError):
        return {'kind': 'OSError', 'errno': error.errno,
                'strerror': error.strerror or str(error),
                'filename': error.filename}
    name = type(error).__name__
    if name == 'ProcessExecutionError':
        return {'kind': 'ProcessExecutionError',
                'fields': {k: getattr(error, k, None) for k in (
                    'stdout', 'stderr', 'exit_code', 'cmd',
                    'description')}}
    translated = (error if isinstance(error, (oswin_exc.OSWinException,
                                              oswin_exc.x_wmi))
                  else oswin_exc.translate(error))
    if translated is not None:
        return {'kind': 'oswin', 'class': type(translated).__name__,
                'message': str(translated),
                'kwargs': _plain(getattr(translated, 'kwargs', {}))}
    return {'kind': 'other', 'class': name, 'message': str(error)}


def _plain(kwargs):
    """The keyword arguments that can cross (message formatting only)."""
    plain = {}
    for key, value in kwargs.items():
        try:
            json.dumps(value)
        except TypeError:
            value = str(value)
        plain[key] = value
    return plain


def decode_error(data):
    """The exception to raise for an encoded error."""
    kind = data.get('kind')
    if kind == 'OSError':
        return OSError(data['errno'], data['strerror'], data['filename'])
    if kind == 'ProcessExecutionError':
        from oslo_concurrency import processutils
        return processutils.ProcessExecutionError(**data['fields'])
    if kind == 'oswin':
        cls = oswin_exc.by_name(data['class'])
        if cls is oswin_exc.x_wmi:
            return cls(data['message'])
        error = cls(data['message'], **data.get('kwargs', {}))
        return error
    if kind == 'refused':
        return AgentRefused(data['message'])
    return AgentError('the agent failed: %s: %s'
                      % (data.get('class'), data.get('message')))
