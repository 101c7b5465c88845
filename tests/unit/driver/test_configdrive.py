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

"""The config drive ISO, built in-process (no genisoimage, no subprocess)."""

import io
import os
import subprocess
import tempfile
from unittest import mock

import fixtures
import pycdlib
import testtools

from nova.api.metadata import base as instance_metadata

from hvc_driver import configdrive

METADATA = [
    # nova joins the ec2 paths with os.path.join (backslashes on Windows).
    ('ec2\\2009-04-04\\meta-data.json', b'{"ami-id": "ami-1"}'),
    ('ec2/latest/user-data', b'#!/bin/sh\n'),
    ('openstack/latest/meta_data.json', b'{"uuid": "u1"}'),
    ('openstack/latest/vendor_data.json', b'{}'),
    ('openstack/latest/vendor_data2.json', b'{"v": 2}'),
    ('openstack/content/0000', 'text, not bytes: \u00e9'),
]


def read_iso_file(iso, path):
    """``path`` (as nova's metadata names it) in ``iso``, by its Rock Ridge,
    Joliet and plain ISO 9660 names: the three must agree.
    """
    contents = set()
    for kind, name in (('rr_path', path), ('joliet_path', path),
                       ('iso_path', path + ';1')):
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, **{kind: name})
        contents.add(out.getvalue())
    [content] = contents
    return content


class TestConfigDrive(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'configdrive.iso')
        self.instance_md = mock.create_autospec(
            instance_metadata.InstanceMetadata, instance=True)
        self.instance_md.metadata_for_config_drive.return_value = METADATA
        # nova's release file is found through a parsed CONF (nova-compute
        # has one); nova's built-in product name here.
        self.useFixture(fixtures.MockPatch('nova.version.loaded', True))
        # Neither genisoimage nor any other process: none starts on Windows
        # through oslo.concurrency.
        self.popen = self.useFixture(fixtures.MockPatchObject(
            subprocess, 'Popen', side_effect=AssertionError(
                'the config drive must not start a process'))).mock

    def _open(self):
        iso = pycdlib.PyCdlib()
        iso.open(self.path)
        self.addCleanup(iso.close)
        return iso

    def _write(self):
        with open(self.path, 'wb') as f:
            f.write(configdrive.make_config_drive(self.instance_md))

    def test_an_iso_labelled_config_2_with_every_metadata_file(self):
        self._write()
        iso = self._open()
        self.assertEqual(b'config-2', iso.pvd.volume_identifier.rstrip())
        self.assertTrue(iso.has_rock_ridge())
        self.assertTrue(iso.has_joliet())
        for path, data in METADATA:
            if isinstance(data, str):
                data = data.encode('utf-8')
            self.assertEqual(data, read_iso_file(
                iso, '/' + path.replace('\\', '/')))
        self.assertEqual(
            ['2009-04-04', 'latest'],
            sorted(c.file_identifier().decode() for c in iso.list_children(
                rr_path='/ec2') if not (c.is_dot() or c.is_dotdot())))
        self.popen.assert_not_called()

    def test_nothing_is_written_but_its_bytes_are_returned(self):
        # No temporary files: the driver writes the bytes to the host's
        # storage (through the agent). A temporary folder of this test's
        # own: other test processes use the system's meanwhile.
        self.useFixture(fixtures.MonkeyPatch(
            'tempfile.tempdir', self.useFixture(fixtures.TempDir()).path))
        image = configdrive.make_config_drive(self.instance_md)
        self.assertEqual(b'CD001', image[32769:32774])
        self.assertEqual([], os.listdir(os.path.dirname(self.path)))
        self.assertEqual([], os.listdir(tempfile.gettempdir()))
