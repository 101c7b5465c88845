"""A small, valid VHD image for glance.

Glance inspects what is uploaded and refuses data that does not match the
image's disk_format, so the test image is a real (empty) dynamic VHD. The
simulated cluster reads any image file as a fixed disk of the file's size.
"""

import math
import struct
import time
import uuid

_SECTOR = 512
_BLOCK = 2 * 1024 * 1024
# Seconds between 1970-01-01 and the VHD epoch, 2000-01-01 UTC.
_VHD_EPOCH = 946684800


def _checksum(data):
    return (~sum(data)) & 0xffffffff


def _geometry(size):
    """CHS geometry as the VHD specification computes it."""
    sectors = min(size // _SECTOR, 65535 * 16 * 255)
    if sectors >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cth = sectors // spt
    else:
        spt = 17
        cth = sectors // spt
        heads = max((cth + 1023) // 1024, 4)
        if cth >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cth = sectors // spt
        if cth >= heads * 1024:
            spt, heads = 63, 16
            cth = sectors // spt
    return struct.pack('>HBB', cth // heads, heads, spt)


def _footer(size, disk_id, timestamp):
    footer = bytearray(_SECTOR)
    struct.pack_into(
        '>8sIIQI4sI4sQQ4sII16sB', footer, 0,
        b'conectix', 2, 0x00010000, _SECTOR, timestamp, b'hvc ',
        0x00010000, b'Wi2k', size, size, _geometry(size), 3, 0,
        disk_id, 0)
    struct.pack_into('>I', footer, 64, _checksum(footer))
    return bytes(footer)


def vhd_bytes(virtual_size=1024 ** 3):
    """An empty dynamic VHD of ``virtual_size`` bytes (a few KiB)."""
    entries = math.ceil(virtual_size / _BLOCK)
    bat_size = math.ceil(entries * 4 / _SECTOR) * _SECTOR
    timestamp = int(time.time()) - _VHD_EPOCH
    footer = _footer(virtual_size, uuid.uuid4().bytes, timestamp)
    header = bytearray(1024)
    struct.pack_into('>8sQQIII', header, 0, b'cxsparse',
                     0xffffffffffffffff, 3 * _SECTOR, 0x00010000, entries,
                     _BLOCK)
    struct.pack_into('>I', header, 36, _checksum(header))
    bat = b'\xff' * (entries * 4) + b'\0' * (bat_size - entries * 4)
    return footer + bytes(header) + bat + footer


def write_vhd(path, virtual_size=1024 ** 3):
    with open(path, 'wb') as f:
        f.write(vhd_bytes(virtual_size))
    return path
