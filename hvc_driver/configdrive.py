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

"""The config drive: nova's instance metadata as an ISO 9660 image, built
in-process.

nova's ConfigDriveBuilder writes the metadata to a temporary directory and
runs genisoimage (``[DEFAULT] mkisofs_cmd``) through oslo.concurrency's
processutils, which starts no process at all on Windows (it always passes
``preexec_fn``, which CPython refuses there) and needs genisoimage on
Linux. pycdlib (pure Python) writes the image nova's call makes
(``-J -r -V config-2 -l -allow-lowercase -allow-multidot -ldots``): the
volume label ``config-2``, Joliet and Rock Ridge names, and plain ISO 9660
names left as nova's paths spell them (ISO 9660:1999, pycdlib's
interchange level 4, rather than mangled 8.3 names).
"""

import io
import posixpath

import pycdlib

from nova import version

# The label cloud-init and cloudbase-init look for (nova's, too).
VOLUME_LABEL = 'config-2'
# What relaxes ISO 9660's file names (lowercase, several dots, long names).
ISO9660_1999 = 4
JOLIET_LEVEL = 3
ROCK_RIDGE_VERSION = '1.09'


def make_config_drive(instance_md):
    """The config drive of ``instance_md`` (nova's InstanceMetadata), as
    bytes (a few hundred KiB, written to the host's storage in one
    piece): every (path, data) pair of its
    ``metadata_for_config_drive()``, as nova's ConfigDriveBuilder does.
    """
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=ISO9660_1999, vol_ident=VOLUME_LABEL,
            joliet=JOLIET_LEVEL, rock_ridge=ROCK_RIDGE_VERSION,
            pub_ident_str='%s %s' % (
                version.product_string(),
                version.version_string_with_package()))
    directories = set()
    try:
        for md_path, data in instance_md.metadata_for_config_drive():
            if isinstance(data, str):
                data = data.encode('utf-8')
            # nova joins the ec2 paths with os.path.join: backslashes on
            # Windows.
            iso_path = '/' + md_path.replace('\\', '/').strip('/')
            _add_directories(iso, posixpath.dirname(iso_path), directories)
            iso.add_fp(io.BytesIO(data), len(data), iso_path + ';1',
                       rr_name=posixpath.basename(iso_path),
                       joliet_path=iso_path)
        image = io.BytesIO()
        iso.write_fp(image)
        return image.getvalue()
    finally:
        iso.close()


def _add_directories(iso, directory, added):
    """Add ``directory`` and its parents, unless ``added`` has them."""
    if directory == '/' or directory in added:
        return
    _add_directories(iso, posixpath.dirname(directory), added)
    iso.add_directory(directory, rr_name=posixpath.basename(directory),
                      joliet_path=directory)
    added.add(directory)
