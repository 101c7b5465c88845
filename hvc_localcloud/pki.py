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

"""A small PKI for hvc-agent and its callers, made with cryptography: a CA,
server certificates for agents on 127.0.0.1 and client certificates for
nova-compute services, as PEM files in one folder.

The local cloud makes one when it is created (its agents serve HTTPS and
require the client certificate of a nova-compute); the agent's tests make
their own. Each private key (the CA's too, so that a node added later gets
its certificates from the same CA) is readable by its owner only.
"""

import datetime
import ipaddress
import os

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.oid import NameOID

# The names a server certificate is valid for: the agents listen on the
# loopback address.
SERVER_NAMES = (x509.DNSName('localhost'),
                x509.IPAddress(ipaddress.ip_address('127.0.0.1')))


def _write(path, data, mode):
    """Write ``data`` to ``path`` created with ``mode`` (a key: 0600)."""
    fd = os.open(path + '.tmp', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'wb') as f:
        f.write(data)
    os.replace(path + '.tmp', path)
    return path


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class PKI(object):
    """A CA in ``directory`` (``NAME.crt``, its key ``NAME.key``), made
    there unless it is there already, and the certificates it signs,
    valid for ``days``.
    """

    def __init__(self, directory, name='hvc-test-ca', days=1):
        self.directory = directory
        self.days = days
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.ca_file = os.path.join(directory, '%s.crt' % name)
        key_file = os.path.join(directory, '%s.key' % name)
        if os.path.exists(self.ca_file):
            with open(key_file, 'rb') as f:
                self._key = serialization.load_pem_private_key(f.read(),
                                                               None)
            with open(self.ca_file, 'rb') as f:
                self._name = x509.load_pem_x509_certificate(
                    f.read()).subject
            return
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                   name)])
        cert = self._builder(self._name, self._key.public_key()).add_extension(
            x509.BasicConstraints(ca=True, path_length=None),
            critical=True).sign(self._key, hashes.SHA256())
        _write(key_file, _key_pem(self._key), 0o600)
        _write(self.ca_file, cert.public_bytes(serialization.Encoding.PEM),
               0o644)

    def _builder(self, subject, public_key):
        now = datetime.datetime.now(datetime.timezone.utc)
        return x509.CertificateBuilder().subject_name(subject).issuer_name(
            self._name).public_key(public_key).serial_number(
            x509.random_serial_number()).not_valid_before(
            now - datetime.timedelta(minutes=5)).not_valid_after(
            now + datetime.timedelta(days=self.days))

    def files(self, name):
        """(certificate file, key file) of ``name``, issued or not."""
        return (os.path.join(self.directory, '%s.crt' % name),
                os.path.join(self.directory, '%s.key' % name))

    def issue(self, name, server=False):
        """(certificate file, key file) for ``name``: a server's (for
        127.0.0.1 and localhost) or a client's.
        """
        key = ec.generate_private_key(ec.SECP256R1())
        builder = self._builder(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]),
            key.public_key())
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(list(SERVER_NAMES)),
                critical=False).add_extension(x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        else:
            builder = builder.add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        cert_file, key_file = self.files(name)
        _write(key_file, _key_pem(key), 0o600)
        _write(cert_file, cert.public_bytes(serialization.Encoding.PEM),
               0o644)
        return cert_file, key_file
