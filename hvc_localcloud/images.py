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

"""Small, valid VHD and VHDX images for glance.

Glance inspects what is uploaded (the virtual size it records, and with
``require_image_format_match`` it refuses data that does not match the
image's disk_format), so the test images are real (empty) dynamic disks.
The simulated cluster reads any image file as a fixed disk of the file's
size.
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


# VHDX ([MS-VHDX] 2.2): the file type identifier, two headers and two
# region tables in the first MiB, then the log, the BAT and the metadata
# regions, 1 MiB each (regions are 1 MiB aligned).
_MIB = 1024 * 1024
_VHDX_BLOCK = 32 * _MIB             # Hyper-V's default block size
_VHDX_LOGICAL_SECTOR = 512
_VHDX_PHYSICAL_SECTOR = 4096
_VHDX_BAT = uuid.UUID('2DC27766-F623-4200-9D64-115E9BFD4A08')
_VHDX_METADATA = uuid.UUID('8B7CA206-4790-4B9A-B8FE-575F050F886E')
_VHDX_FILE_PARAMETERS = uuid.UUID('CAA16737-FA36-4D43-B3B6-33F0AA44E76B')
_VHDX_VIRTUAL_DISK_SIZE = uuid.UUID('2FA54224-CD1B-4876-B211-5DBED83BF4B8')
_VHDX_PAGE_83 = uuid.UUID('BECA12AB-B2E6-4523-93EF-C309E000C746')
_VHDX_LOGICAL_SECTOR_SIZE = uuid.UUID('8141BF1D-A96F-4709-BA47-F233A8FAAB5F')
_VHDX_PHYSICAL_SECTOR_SIZE = uuid.UUID(
    'CDA348C7-445D-4471-9CC9-E9885251C556')
# Metadata item flags: IsVirtualDisk, IsRequired.
_VIRTUAL_DISK, _REQUIRED = 2, 4


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _bit in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli), the checksum of VHDX headers and region
    tables.
    """
    crc = 0xffffffff
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xff] ^ (crc >> 8)
    return crc ^ 0xffffffff


def _with_checksum(structure):
    """``structure`` (its checksum at offset 4, zero) with its
    checksum.
    """
    struct.pack_into('<I', structure, 4, crc32c(structure))
    return bytes(structure)


def _vhdx_header(sequence, file_write_guid, data_write_guid):
    header = bytearray(4096)
    # No log to replay (LogGuid zero); version 1; a 1 MiB log at 1 MiB.
    struct.pack_into('<4sIQ16s16s16sHHIQ', header, 0, b'head', 0, sequence,
                     file_write_guid, data_write_guid, bytes(16), 0, 1,
                     _MIB, _MIB)
    return _with_checksum(header)


def _vhdx_region_table(bat_offset, metadata_offset):
    table = bytearray(64 * 1024)
    struct.pack_into('<4sIII', table, 0, b'regi', 0, 2, 0)
    for i, (guid, offset) in enumerate(((_VHDX_BAT, bat_offset),
                                        (_VHDX_METADATA, metadata_offset))):
        # Both regions are required.
        struct.pack_into('<16sQII', table, 16 + 32 * i, guid.bytes_le,
                         offset, _MIB, 1)
    return _with_checksum(table)


def _vhdx_metadata(virtual_size):
    items = [
        (_VHDX_FILE_PARAMETERS, _REQUIRED,
         struct.pack('<II', _VHDX_BLOCK, 0)),  # dynamic, no parent
        (_VHDX_VIRTUAL_DISK_SIZE, _VIRTUAL_DISK | _REQUIRED,
         struct.pack('<Q', virtual_size)),
        (_VHDX_PAGE_83, _VIRTUAL_DISK | _REQUIRED, uuid.uuid4().bytes_le),
        (_VHDX_LOGICAL_SECTOR_SIZE, _VIRTUAL_DISK | _REQUIRED,
         struct.pack('<I', _VHDX_LOGICAL_SECTOR)),
        (_VHDX_PHYSICAL_SECTOR_SIZE, _VIRTUAL_DISK | _REQUIRED,
         struct.pack('<I', _VHDX_PHYSICAL_SECTOR)),
    ]
    region = bytearray(_MIB)
    struct.pack_into('<8sHH', region, 0, b'metadata', 0, len(items))
    # The items' data after the table's 64 KiB.
    offset = 64 * 1024
    for i, (guid, flags, data) in enumerate(items):
        struct.pack_into('<16sIII', region, 32 + 32 * i, guid.bytes_le,
                         offset, len(data), flags)
        region[offset:offset + len(data)] = data
        offset += len(data)
    return bytes(region)


def vhdx_bytes(virtual_size=1024 ** 3):
    """An empty dynamic VHDX of ``virtual_size`` bytes (4 MiB): every
    block of its BAT not present.
    """
    if virtual_size % _VHDX_LOGICAL_SECTOR:
        raise ValueError('a VHDX is a whole number of sectors')
    chunk_ratio = (2 ** 23 * _VHDX_LOGICAL_SECTOR) // _VHDX_BLOCK
    blocks = math.ceil(virtual_size / _VHDX_BLOCK)
    bat_entries = blocks + (blocks - 1) // chunk_ratio
    if bat_entries * 8 > _MIB:
        raise ValueError('too large for a 1 MiB BAT')
    bat_offset, metadata_offset = 2 * _MIB, 3 * _MIB
    identifier = bytearray(64 * 1024)
    identifier[:8] = b'vhdxfile'
    creator = 'hvc_localcloud'.encode('utf-16-le')
    identifier[8:8 + len(creator)] = creator
    file_write_guid = uuid.uuid4().bytes_le
    data_write_guid = uuid.uuid4().bytes_le
    region_table = _vhdx_region_table(bat_offset, metadata_offset)
    first_mib = (bytes(identifier) +
                 _vhdx_header(1, file_write_guid, data_write_guid) +
                 bytes(60 * 1024) +
                 _vhdx_header(2, file_write_guid, data_write_guid) +
                 bytes(60 * 1024) + region_table + region_table)
    first_mib += bytes(_MIB - len(first_mib))
    # The log (empty: its GUID in the headers is zero), then the BAT (every
    # entry PAYLOAD_BLOCK_NOT_PRESENT), then the metadata.
    return first_mib + bytes(_MIB) + bytes(_MIB) + _vhdx_metadata(
        virtual_size)


def write_vhdx(path, virtual_size=1024 ** 3):
    with open(path, 'wb') as f:
        f.write(vhdx_bytes(virtual_size))
    return path
