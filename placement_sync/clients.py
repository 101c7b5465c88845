"""Clients for placement and nova, from keystoneauth's conf options.

The options are checked when the session is made, before any request:
keystoneauth itself finds missing credentials or a bad timeout only at
the first request, with a bare Exception or ValueError.
"""

from keystoneauth1 import loading as ks_loading
from openstack import connection
from openstack.config import cloud_region

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


def session(conf, group):
    """A keystoneauth session from the group's options, or ConfigError."""
    try:
        auth = ks_loading.load_auth_from_conf_options(conf, group)
    except Exception as e:  # keystoneauth raises several unrelated types.
        raise exception.ConfigError(
            'bad [%s] auth options: %s' % (group, e))
    if auth is None:
        raise exception.ConfigError(
            '[%s] auth_type is not set: set it (e.g. password, or '
            'admin_token with endpoint and token)' % group)
    options = conf[group]
    for choices in _CREDENTIALS.get(options.auth_type, ()):
        if not any(getattr(options, name, None) for name in choices):
            raise exception.ConfigError(
                '[%s] auth_type = %s needs %s' % (
                    group, options.auth_type, ' or '.join(choices)))
    if options.timeout is not None and options.timeout <= 0:
        raise exception.ConfigError(
            '[%s] timeout must be more than 0 seconds, got %s'
            % (group, options.timeout))
    return ks_loading.load_session_from_conf_options(conf, group, auth=auth)


def placement_client(conf):
    group = sync_conf.PLACEMENT_GROUP
    try:
        adapter = ks_loading.load_adapter_from_conf_options(
            conf, group, session=session(conf, group),
            service_type='placement')
    except TypeError as e:  # keystoneauth's word for bad adapter options.
        raise exception.ConfigError('bad [%s] options: %s' % (group, e))
    return placement.PlacementClient(adapter)


def compute_proxy(conf, nova_session):
    region = cloud_region.from_conf(conf, session=nova_session,
                                    service_types={'compute'})
    return connection.Connection(config=region).compute
