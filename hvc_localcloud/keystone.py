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

"""Keystone: the identity service, its catalog and the service users.

The local cloud authenticates with keystone as a deployment does, so the
``openstack`` CLI and openstacksdk work with a plain openrc, and every
service-to-service call (nova to placement, neutron and glance; the
placement_sync tool to placement and nova) carries a real token.
"""

import os

from hvc_localcloud import ini
from hvc_localcloud import procs
from hvc_localcloud import uwsgi

REGION = 'RegionOne'
SERVICE_PROJECT = 'service'
# Users of the services and tools, each with the admin and service roles
# in the service project.
SERVICE_USERS = ('nova', 'placement', 'glance', 'neutron',
                 'hvc-placement-sync')


class Keystone(object):

    name = 'keystone'
    region = REGION

    def __init__(self, cloud):
        self.cloud = cloud
        self.etc = cloud.path('etc', 'keystone')

    @property
    def url(self):
        return 'http://127.0.0.1:%d/v3' % self.cloud.ports['keystone']

    def configure(self):
        data = self.cloud.path('data', 'keystone')
        ini.write(os.path.join(self.etc, 'keystone.conf'), {
            'DEFAULT': {'debug': self.cloud.debug},
            'database': {'connection': self.cloud.db.url('keystone',
                                                         'keystone')},
            # bcrypt's minimum cost: every CLI call and service token
            # checks a password, 0.28 s of CPU each at keystone's default
            # of 12 rounds. Key stretching guards chosen passwords; these
            # are random 128-bit secrets on a loopback-only cloud.
            'identity': {'password_hash_rounds': 4},
            'token': {'provider': 'fernet'},
            # Tokens, roles and the catalog in the one keystone process
            # (a deployment uses memcached): a call's token is issued, then
            # validated by the service it calls.
            'cache': {'enabled': True, 'backend': 'dogpile.cache.memory'},
            'fernet_tokens': {'key_repository': os.path.join(data, 'fernet')},
            'credential': {'key_repository': os.path.join(data,
                                                          'credential')},
            'fernet_receipts': {'key_repository': os.path.join(
                data, 'fernet')},
        })

    def db_sync(self):
        conf = ['--config-file', os.path.join(self.etc, 'keystone.conf')]
        log = self.cloud.log('keystone-manage')
        manage = procs.venv_bin('keystone-manage')
        user = ['--keystone-user', str(os.getuid()),
                '--keystone-group', str(os.getgid())]
        procs.run([manage] + conf + ['db_sync'], log,
                  what='keystone-manage db_sync')
        procs.run([manage] + conf + ['fernet_setup'] + user, log,
                  what='keystone-manage fernet_setup')
        procs.run([manage] + conf + ['credential_setup'] + user, log,
                  what='keystone-manage credential_setup')
        # The admin's password from the environment, not the command line.
        procs.run([manage] + conf + [
            'bootstrap',
            '--bootstrap-admin-url', self.url,
            '--bootstrap-internal-url', self.url,
            '--bootstrap-public-url', self.url,
            '--bootstrap-region-id', REGION], log,
            env=dict(os.environ,
                     OS_BOOTSTRAP_PASSWORD=self.cloud.secrets['admin']),
            what='keystone-manage bootstrap')

    def start(self):
        return uwsgi.start(self.cloud, self.name,
                           'keystone.wsgi.api:application',
                           self.cloud.ports['keystone'],
                           {'OS_KEYSTONE_CONFIG_DIR': self.etc})

    def wait(self, record):
        uwsgi.wait(self.cloud, self.name, record, self.url)

    def register(self, endpoints):
        """The service project and users, and endpoints {type: (name, url)}.

        Idempotent: a restarted cloud finds them there.
        """
        conn = self.cloud.admin_connection()
        identity = conn.identity
        project = (identity.find_project(SERVICE_PROJECT) or
                   identity.create_project(name=SERVICE_PROJECT,
                                           domain_id='default'))
        roles = []
        for name in ('admin', 'service'):
            roles.append(identity.find_role(name) or
                         identity.create_role(name=name))
        for name in SERVICE_USERS:
            user = identity.find_user(name, domain_id='default')
            password = self.cloud.secrets['user_' + name]
            if user is None:
                user = identity.create_user(name=name, password=password,
                                            domain_id='default',
                                            default_project_id=project.id)
            for role in roles:
                identity.assign_project_role_to_user(project, user, role)
        for service_type, (name, url) in endpoints.items():
            service = (identity.find_service(name) or
                       identity.create_service(name=name, type=service_type))
            if not list(identity.endpoints(service_id=service.id)):
                identity.create_endpoint(service_id=service.id,
                                         interface='public', url=url,
                                         region_id=REGION)

    def authtoken(self, user):
        """[keystone_authtoken] of a service that runs as ``user``."""
        section = self.service_auth(user)
        section.update(www_authenticate_uri=self.url,
                       service_token_roles_required=True)
        del section['region_name']
        return section

    def service_auth(self, user):
        """keystoneauth options to call other services as ``user``."""
        return {'auth_type': 'password', 'auth_url': self.url,
                'username': user,
                'password': self.cloud.secrets['user_' + user],
                'project_name': SERVICE_PROJECT,
                'user_domain_name': 'Default',
                'project_domain_name': 'Default',
                'region_name': REGION}
