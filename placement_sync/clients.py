"""Clients for placement and nova, from keystoneauth's conf options."""

from keystoneauth1 import loading as ks_loading
from openstack import connection
from openstack.config import cloud_region

from placement_sync import conf as sync_conf
from placement_sync import exception
from placement_sync import placement


def _session(conf, group):
    try:
        auth = ks_loading.load_auth_from_conf_options(conf, group)
    except Exception as e:  # keystoneauth raises several unrelated types.
        raise exception.ConfigError(
            'bad [%s] auth options: %s' % (group, e))
    if auth is None:
        raise exception.ConfigError(
            '[%s] auth_type is not set: set it (e.g. password, or '
            'admin_token with endpoint and token)' % group)
    return ks_loading.load_session_from_conf_options(conf, group, auth=auth)


def placement_client(conf):
    session = _session(conf, sync_conf.PLACEMENT_GROUP)
    adapter = ks_loading.load_adapter_from_conf_options(
        conf, sync_conf.PLACEMENT_GROUP, session=session,
        service_type='placement')
    return placement.PlacementClient(adapter)


def compute_proxy(conf):
    session = _session(conf, sync_conf.NOVA_GROUP)
    region = cloud_region.from_conf(conf, session=session,
                                    service_types={'compute'})
    return connection.Connection(config=region).compute
