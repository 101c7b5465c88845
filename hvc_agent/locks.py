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

"""Locks that hold for every node of a cluster: a lock file on a CSV.

On Windows the lock is the file opened with no sharing (``CreateFileW``
with ``dwShareMode`` 0): while one node holds it open, every other open
of it fails with ERROR_SHARING_VIOLATION, wherever it comes from. That is
documented for any NTFS file ("CreateFileW function", dwShareMode, and
"Creating and Opening Files" on Microsoft Learn), and a Cluster Shared
Volume keeps NTFS semantics for every node because opening and creating
files are metadata operations that the CSV's coordinator node performs for
all of them ("Cluster Shared Volumes overview", Microsoft Learn), also
across a move of the coordinator. Byte-range locks (``msvcrt.locking``,
what fasteners and oslo.concurrency take on Windows) have no such
documented cross-node guarantee, so they are not used.

Elsewhere (the simulated world, where every node is this machine) an
exclusive ``flock`` plays the same part.
"""

import contextlib
import os
import threading
import time

# How often a lock held by another node is tried again.
RETRY_SECONDS = 0.05

_GENERIC_READ_WRITE = 0x80000000 | 0x40000000
_OPEN_ALWAYS = 4
_FILE_ATTRIBUTE_NORMAL = 0x80
_ERROR_SHARING_VIOLATION = 32
_INVALID_HANDLE_VALUE = -1

# One lock per file in this process too: a second open of our own would
# fail as another node's does, so threads queue here first.
_local = {}
_local_guard = threading.Lock()


class LockBusy(Exception):
    """The lock was not free within the time the caller would wait."""


def _local_lock(path):
    with _local_guard:
        return _local.setdefault(os.path.normcase(path), threading.Lock())


@contextlib.contextmanager
def cluster_lock(path, kernel32=None, timeout=None):
    """Hold the cluster-wide lock that is the file ``path`` (made, with
    its folder, if need be; left in place) for the ``with`` block.
    ``kernel32``: the Windows API, kernel32 on Windows (given by the
    tests). ``timeout``: seconds to wait for it at most (LockBusy), or
    None.

    The agent enters and leaves the block from different threads (a lease
    taken by one request, released by another): nothing here is bound to
    a thread.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    local = _local_lock(path)
    if not local.acquire(timeout=-1 if timeout is None else timeout):
        raise LockBusy(path)
    try:
        # As oslo.concurrency's external locks: the folder too.
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if kernel32 is None and os.name == 'nt':
            import ctypes
            kernel32 = ctypes.WinDLL('kernel32', use_last_error=True)
        if kernel32 is not None:
            handle = _open_exclusive(kernel32, path, deadline)
            try:
                yield
            finally:
                kernel32.CloseHandle(handle)
        else:
            import fcntl
            with open(path, 'a') as f:
                _flock(f, deadline)
                try:
                    yield
                finally:
                    fcntl.flock(f, fcntl.LOCK_UN)
    finally:
        local.release()


def _flock(f, deadline):
    import fcntl
    if deadline is None:
        fcntl.flock(f, fcntl.LOCK_EX)
        return
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise LockBusy(f.name)
            time.sleep(RETRY_SECONDS)


def _last_error():
    """The error of the last Windows call of this thread."""
    import ctypes
    return ctypes.get_last_error()


def _open_exclusive(kernel32, path, deadline=None):
    """A handle of ``path`` opened with no sharing, once nobody else has
    it open (LockBusy after ``deadline``).
    """
    while True:
        handle = kernel32.CreateFileW(path, _GENERIC_READ_WRITE, 0, None,
                                      _OPEN_ALWAYS, _FILE_ATTRIBUTE_NORMAL,
                                      None)
        if handle not in (_INVALID_HANDLE_VALUE, None):
            return handle
        error = _last_error()
        if error != _ERROR_SHARING_VIOLATION:
            raise OSError(error, 'cannot open the lock file %s' % path)
        if deadline is not None and time.monotonic() > deadline:
            raise LockBusy(path)
        time.sleep(RETRY_SECONDS)
