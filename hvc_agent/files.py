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

"""A file's contents, read or written in pieces: how bytes reach the
Hyper-V host's storage (an image into the cache, a config drive, a
snapshot out to glance, the console log), the same in-process and through
the agent.
"""

import os


def read_file(path, offset=0, length=-1):
    """``length`` bytes (all to the end: -1) of the file at ``path`` from
    ``offset``.
    """
    with open(path, 'rb') as f:
        f.seek(offset)
        return f.read(length)


def write_file(path, data, offset=0):
    """Write ``data`` at ``offset`` of the file at ``path``: offset 0
    makes the file anew, any other offset must be its end (a file is
    written in order, piece by piece).
    """
    if offset == 0:
        with open(path, 'wb') as f:
            f.write(data)
        return
    with open(path, 'r+b') as f:
        end = f.seek(0, os.SEEK_END)
        if end != offset:
            raise OSError(22, 'a piece of %s written at %d, which ends '
                          'at %d' % (path, offset, end), path)
        f.write(data)


class Writer(object):
    """A file object that writes ``path`` through ``pathutils`` (its
    ``write_file``) in pieces of ``piece_bytes``: what glance's download
    writes an image into.
    """

    def __init__(self, pathutils, path, piece_bytes=8 * 1024 * 1024):
        self._pathutils = pathutils
        self.path = path
        self._piece_bytes = piece_bytes
        self._buffer = bytearray()
        self._offset = 0
        self.bytes_written = 0

    def write(self, data):
        self._buffer += data
        if len(self._buffer) >= self._piece_bytes:
            self.flush()

    def flush(self):
        if self._buffer or self._offset == 0:
            self._pathutils.write_file(self.path, bytes(self._buffer),
                                       self._offset)
            self._offset += len(self._buffer)
            self.bytes_written = self._offset
            self._buffer = bytearray()

    def truncate(self, size=0):
        """Start again (glance's download truncates a file whose signature
        is wrong).
        """
        self._buffer = bytearray()
        self._offset = 0
        self._pathutils.write_file(self.path, b'', 0)

    def close(self):
        self.flush()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()


class Reader(object):
    """A file object that reads ``path`` through ``pathutils`` (its
    ``read_file``) a piece of ``piece_bytes`` at a time, whatever size the
    caller reads (glance's upload reads 64 KiB at a time): what a
    snapshot goes to glance from.
    """

    def __init__(self, pathutils, path, piece_bytes=8 * 1024 * 1024):
        self._pathutils = pathutils
        self._path = path
        self._piece_bytes = piece_bytes
        self._offset = 0
        self._buffer = b''
        self.bytes_read = 0

    def read(self, size=-1):
        if not self._buffer:
            self._buffer = self._pathutils.read_file(
                self._path, self._offset, self._piece_bytes)
            self._offset += len(self._buffer)
        if size is None or size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        self.bytes_read += len(data)
        return data

    def __iter__(self):
        while True:
            data = self.read()
            if not data:
                return
            yield data
