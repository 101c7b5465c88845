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

"""Clients for placement and nova, and where their credentials come from.

Precedence, for each of placement and nova:

1. ``--os-cloud NAME`` on the command line: the cloud NAME of clouds.yaml
   (found and read as openstacksdk and the ``openstack`` client do).
2. The service's group in the configuration file (``[placement]``,
   ``[nova]``), keystoneauth's options as in nova.conf, when its
   ``auth_type`` is set.
3. The environment, as the ``openstack`` client reads it: ``OS_CLOUD``
   (a cloud of clouds.yaml), else the ``OS_*`` variables of an openrc
   (``OS_AUTH_URL``, ``OS_USERNAME``, ...), else the only cloud of
   clouds.yaml.

None of these: a configuration error. Options are checked when the
session is made, before any request: keystoneauth itself finds missing
credentials or a bad timeout only at the first request, with a bare
Exception or ValueError.
"""

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import loading as ks_loading
from openstack import config as sdk_config
from openstack.config import cloud_region
from openstack import connection
from openstack import exceptions as sdk_exc

from placement_sync import conf as sync_conf
from placement_sync import exception
from placement_sync import placement

# For the auth plugins operators use: one option of each tuple must be set.
_CREDENTIALS = {
    'password': (('password',), ('username', 'user_id')),
    'v3password': (('password',), ('username', 'user_id')),
    'token': (('token',),),
    'v3token': (('token',),),
    'admin_token': (('endpoint',), ('token',)),
}
# openstacksdk's name of each group's service.
_SERVICE_TYPES = {sync_conf.PLACEMENT_GROUP: 'placement',
                  sync_conf.NOVA_GROUP: 'compute'}


def credentials_origin(conf, group):
    """Where the group's credentials come from: 'cloud' (--os-cloud),
    'options' (the group's options) or 'environment'.
    """
    if getattr(conf, 'os_cloud', None):
        return 'cloud'
    if conf[group].auth_type:
        return 'options'
    return 'environment'


def has_credentials(conf, group):
    """Whether credentials for the group can be found at all."""
    if credentials_origin(conf, group) != 'environment':
        return True
    try:
        return _environment_cloud_name(_clouds_config()) != ''
    except exception.ConfigError:
        return True  # a broken clouds.yaml: let session() say so.


class _CloudsConfig(sdk_config.OpenStackConfig):
    """openstacksdk's loader, which also checks the shape of clouds.yaml:
    openstacksdk itself takes ``clouds`` as a list or a cloud that is not
    a mapping and fails later with an AttributeError.
    """

    def _validate_config_file(self, path, data):
        if not super()._validate_config_file(path, data):
            return False
        clouds = data['clouds']
        if not isinstance(clouds, dict):
            raise sdk_exc.ConfigException(
                '%s: clouds must be a mapping of cloud names to their '
                'settings, got %s' % (path, type(clouds).__name__))
        for name, settings in clouds.items():
            if not isinstance(settings, dict):
                raise sdk_exc.ConfigException(
                    '%s: clouds.%s must be a mapping of settings, got %s'
                    % (path, name, type(settings).__name__))
        return True


def _clouds_config():
    """openstacksdk's view of clouds.yaml and the OS_* variables, or
    ConfigError.
    """
    try:
        return _CloudsConfig()
    except Exception as e:  # openstacksdk raises several unrelated types.
        raise exception.ConfigError('cannot read clouds.yaml: %s' % e)


def _environment_cloud_name(config):
    """The cloud the environment names: OS_CLOUD, the OS_* variables
    ('envvars'), the only cloud of clouds.yaml; '' for none at all.
    """
    if config.default_cloud == 'defaults':
        return ''
    return config.default_cloud


def cloud(conf, group):
    """openstacksdk's CloudRegion for the group, or None when the group's
    own options apply.
    """
    origin = credentials_origin(conf, group)
    if origin == 'options':
        return None
    config = _clouds_config()
    name = conf.os_cloud if origin == 'cloud' else (
        _environment_cloud_name(config))
    if name == '':
        raise exception.ConfigError(
            '[%s] auth_type is not set, and neither --os-cloud, '
            'OS_CLOUD nor OS_* variables give credentials: set one '
            '(e.g. auth_type = password, or admin_token with endpoint '
            'and token)' % group)
    if name is None:
        raise exception.ConfigError(
            'clouds.yaml has several clouds: name one with --os-cloud '
            'or OS_CLOUD (for [%s])' % group)
    try:
        region = config.get_one(cloud=name)
        # Loads the auth plugin: missing options show here.
        region.get_auth()
    except sdk_exc.ConfigException as e:
        raise exception.ConfigError('cannot use the cloud for [%s]: %s'
                                    % (group, e))
    except Exception as e:  # keystoneauth raises several unrelated types.
        raise exception.ConfigError(
            'bad credentials for [%s] in cloud %s: %s' % (group, name, e))
    _check_cloud(region, config, group)
    return region


def _missing_credential(auth_type, value_of):
    """The options of which the auth plugin needs one and has none, or
    None: keystoneauth finds them missing only at the first request.
    """
    for choices in _CREDENTIALS.get(auth_type, ()):
        if not any(value_of(name) for name in choices):
            return choices
    return None


def _check_cloud(region, config, group):
    """ConfigError for what openstacksdk and keystoneauth take as given and
    fail on only at the first request (a traceback, on every periodic
    retry).
    """
    from_environment = region.name == config.envvar_key

    def field(name, section=''):
        # As the operator wrote it: OS_PASSWORD, or auth.password.
        return 'OS_' + name.upper() if from_environment else section + name

    where = '%s (for [%s])' % (
        'the OS_* variables' if from_environment
        else 'cloud %s' % region.name, group)
    auth_type = region.config.get('auth_type')
    choices = _missing_credential(auth_type,
                                  (region.config.get('auth') or {}).get)
    if choices:
        raise exception.ConfigError('%s: auth type %s needs %s' % (
            where, auth_type,
            ' or '.join(field(name, 'auth.') for name in choices)))
    timeout = region.config.get('api_timeout')
    if timeout is not None:
        try:
            seconds = float(timeout)
        except (TypeError, ValueError):
            seconds = 0
        if not seconds > 0:
            raise exception.ConfigError(
                '%s: %s must be a number of seconds more than 0, got %r'
                % (where, field('api_timeout'), timeout))


def _cloud_session(region):
    sess = region.get_session()
    if region.config.get('api_timeout') is None:
        # keystoneauth waits for ever by default.
        sess.timeout = sync_conf.KS_DEFAULTS['timeout']
    return sess


def session(conf, group):
    """A keystoneauth session for the group, or ConfigError."""
    region = cloud(conf, group)
    if region is not None:
        return _cloud_session(region)
    try:
        auth = ks_loading.load_auth_from_conf_options(conf, group)
    except Exception as e:  # keystoneauth raises several unrelated types.
        raise exception.ConfigError(
            'bad [%s] auth options: %s' % (group, e))
    options = conf[group]
    choices = _missing_credential(
        options.auth_type, lambda name: getattr(options, name, None))
    if choices:
        raise exception.ConfigError('[%s] auth_type = %s needs %s' % (
            group, options.auth_type, ' or '.join(choices)))
    if options.timeout is not None and options.timeout <= 0:
        raise exception.ConfigError(
            '[%s] timeout must be more than 0 seconds, got %s'
            % (group, options.timeout))
    return ks_loading.load_session_from_conf_options(conf, group, auth=auth)


def placement_client(conf):
    group = sync_conf.PLACEMENT_GROUP
    region = cloud(conf, group)
    if region is not None:
        return placement.PlacementClient(ks_adapter.Adapter(
            session=_cloud_session(region), service_type='placement',
            interface=region.get_interface('placement'),
            region_name=region.get_region_name('placement'),
            endpoint_override=region.get_endpoint('placement'),
            status_code_retries=sync_conf.KS_DEFAULTS['status_code_retries'],
            retriable_status_codes=sync_conf.KS_DEFAULTS[
                'retriable_status_codes']))
    try:
        adapter = ks_loading.load_adapter_from_conf_options(
            conf, group, session=session(conf, group),
            service_type='placement')
    except TypeError as e:  # keystoneauth's word for bad adapter options.
        raise exception.ConfigError('bad [%s] options: %s' % (group, e))
    return placement.PlacementClient(adapter)


def compute_proxy_factory(conf):
    """A function that makes the openstacksdk compute proxy with the nova
    credentials; the credentials are checked now (bad options are an
    error before any work), the connection is made on first use (nova
    down is an outage to ride out).
    """
    group = sync_conf.NOVA_GROUP
    region = cloud(conf, group)
    if region is not None:
        return lambda: connection.Connection(config=region).compute
    nova_session = session(conf, group)

    def factory():
        region = cloud_region.from_conf(conf, session=nova_session,
                                        service_types={'compute'})
        return connection.Connection(config=region).compute
    return factory
