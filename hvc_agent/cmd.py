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

"""``hvc-agent``: serve this Hyper-V host to its nova-compute.

    hvc-agent --config-file C:\\OpenStack\\etc\\hvc-agent.conf

Runs until stopped (SIGTERM, SIGINT, or the Windows service's stop).
"""

import ipaddress
import signal
import socket
import ssl
import sys
import threading

from cheroot import wsgi
from oslo_config import cfg
from oslo_log import log as logging

from hvc_agent import app
from hvc_agent import conf as agent_conf

LOG = logging.getLogger(__name__)


class ConfigError(Exception):
    pass


def _is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == 'localhost'


def make_host(options):
    """The Hyper-V host the options name."""
    if options.backend == agent_conf.BACKEND_SIMULATED:
        if not options.simulated_state_file or not \
                options.simulated_node_name:
            raise ConfigError('[agent] backend = simulated needs '
                              'simulated_state_file and simulated_node_name')
        from hvc_agent import simulated
        from hvc_sim import state as sim_state
        try:
            host = simulated.Simulated(options.simulated_state_file,
                                       options.simulated_node_name)
            if host.node_name() is None:
                raise sim_state.SimulatorError('no node %s in it'
                                               % options.simulated_node_name)
        except sim_state.SimulatorError as e:
            raise ConfigError('[agent] simulated_state_file %s: %s'
                              % (options.simulated_state_file, e))
        return host
    from hvc_agent import oswin
    return oswin.OsWin(standalone=options.standalone_host)


def make_server(options, application):
    """A cheroot server of ``application``: HTTPS that requires a client
    certificate signed by ``ca_file``, or plain HTTP on a loopback
    address.
    """
    server = wsgi.Server((options.bind_host, options.bind_port),
                         application, numthreads=8,
                         max=options.threads, server_name='hvc-agent')
    if options.insecure_loopback:
        if not _is_loopback(options.bind_host):
            raise ConfigError(
                '[agent] insecure_loopback serves anyone without '
                'authentication: it is refused on %s (bind it to '
                '127.0.0.1, or set cert_file, key_file and ca_file)'
                % options.bind_host)
        return server
    missing = [name for name in ('cert_file', 'key_file', 'ca_file')
               if not getattr(options, name)]
    if missing:
        raise ConfigError('[agent] %s must be set: the agent serves HTTPS '
                          'with client certificates only'
                          % ', '.join(missing))
    from cheroot.ssl import builtin
    adapter = builtin.BuiltinSSLAdapter(options.cert_file, options.key_file,
                                        certificate_chain=options.ca_file)
    # Every caller must present a certificate the CA signed.
    adapter.context.verify_mode = ssl.CERT_REQUIRED
    adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
    server.ssl_adapter = adapter
    return server


def main(argv=None):
    conf = cfg.ConfigOpts()
    agent_conf.register_opts(conf)
    logging.register_options(conf)
    try:
        conf(sys.argv[1:] if argv is None else argv, project='hvc',
             prog='hvc-agent')
    except cfg.Error as e:
        print('hvc-agent: %s' % e, file=sys.stderr)
        return 2
    logging.setup(conf, 'hvc-agent')
    options = conf.agent
    try:
        # The server first: a configuration that would serve without
        # authentication is refused before anything else is looked at.
        server = make_server(options, None)
        host = make_host(options)
        server.wsgi_app = application = app.Agent(
            host, options.instances_path, options.other_hosts_storage)
    except (ConfigError, OSError, ssl.SSLError) as e:
        print('hvc-agent: %s' % e, file=sys.stderr)
        return 2
    stopped = threading.Event()

    def stop_both():
        # The application first: its long polls end, so that the server
        # need not wait for them.
        application.stop()
        server.stop()

    serving = threading.Event()

    def stop(signum, frame):
        if not stopped.is_set():
            stopped.set()
            if serving.is_set():
                threading.Thread(target=stop_both, daemon=True).start()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    try:
        server.prepare()
    except (OSError, socket.error) as e:
        print('hvc-agent: cannot listen on %s:%s: %s'
              % (options.bind_host, options.bind_port, e), file=sys.stderr)
        return 2
    application.start()
    LOG.info('hvc-agent of %s (%s backend) serving on %s:%s (%s)',
             host.node_name(), options.backend, *server.bind_addr[:2],
             'plain HTTP, loopback only' if options.insecure_loopback
             else 'HTTPS, client certificates required')
    # A stop asked for while the agent was starting ends it here; one
    # asked for from now on ends its serving.
    serving.set()
    if stopped.is_set():
        stop_both()
        return 0
    try:
        server.serve()
    finally:
        if not stopped.is_set():
            application.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
