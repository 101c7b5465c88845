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

"""What hvc-agent imports on its os-win path, with only its Windows
requirements importable.

    python tools/agent_dependencies.py [--json]

Imports the agent's command, application and os-win host, and every os-win
module the host loads (its utils classes, utilsfactory, the WQL helpers),
as ``hvc-agent`` on Windows does, in a process where nothing is importable
beyond the standard library, this project's ``hvc_agent``,
``hvc_oswin_api``, ``hvc_names`` and ``placement_sync``, and the
distributions ``etc/windows/hvc-agent-requirements.txt`` names with
everything they require (markers evaluated as on Windows). An import of
anything else fails as it would on a Windows host that has only those
installed (what a package imports only when it is there is left out).
Prints the distributions the imported modules come from, and exits 1 if
an import failed.

Run it on Linux: os-win imports its Windows-only modules (PyMI's ``wmi``,
ctypes' Windows libraries) only on Windows, so those are not exercised.
"""

import importlib
import importlib.abc
from importlib import machinery
import importlib.metadata
import json
import os
import re
import site
import sys

from packaging import requirements

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIREMENTS = os.path.join(ROOT, 'etc', 'windows',
                            'hvc-agent-requirements.txt')
# This project's packages that hvc-agent's os-win path may import
# (placement_sync's os-win source, which GET /v1/cluster serves, and the
# provider names it reports).
OWN = frozenset(['hvc_agent', 'hvc_names', 'hvc_oswin_api',
                 'placement_sync'])
WINDOWS = {'sys_platform': 'win32', 'platform_system': 'Windows',
           'os_name': 'nt', 'extra': ''}
# The agent's modules and what its os-win host imports when it runs.
MODULES = ['hvc_agent.cmd', 'hvc_agent.app', 'hvc_agent.oswin',
           'hvc_agent.command', 'hvc_agent.locks', 'hvc_agent.files',
           'hvc_agent.wire', 'cheroot.ssl.builtin', 'os_win.utilsfactory',
           'os_win.utils._wqlutils', 'placement_sync.sources.oswin']


def _name(dist):
    return re.sub(r'[-_.]+', '-', dist).lower()


def closure(requirements_file=REQUIREMENTS):
    """The installed distributions the file names, and all they require
    on Windows (normalized names).
    """
    with open(requirements_file) as f:
        todo = [requirements.Requirement(line.split('#')[0].strip())
                for line in f if line.split('#')[0].strip()]
    found = set()
    while todo:
        req = todo.pop()
        if req.marker and not req.marker.evaluate(WINDOWS):
            continue
        if _name(req.name) in found:
            continue
        try:
            dist = importlib.metadata.distribution(req.name)
        except importlib.metadata.PackageNotFoundError:
            continue  # Windows only (PyMI, WMI, pywin32)
        found.add(_name(req.name))
        for line in dist.requires or ():
            sub = requirements.Requirement(line)
            if sub.marker is None or sub.marker.evaluate(WINDOWS):
                todo.append(sub)
    return found


def hide_other_distributions(allowed_dists):
    """importlib.metadata knows only ``allowed_dists``, as on the host
    (dnspython imports cryptography when its metadata says it is there).
    """
    for function in ('distribution', 'version', 'metadata', 'requires'):
        real = getattr(importlib.metadata, function)

        def only_allowed(name, real=real):
            if _name(name) not in allowed_dists:
                raise importlib.metadata.PackageNotFoundError(name)
            return real(name)
        setattr(importlib.metadata, function, only_allowed)


class Blocker(importlib.abc.MetaPathFinder):
    """Refuses every top-level module outside ``allowed``, but for what
    an allowed package vendors: setuptools' pkg_resources (which os-win
    imports) puts ``setuptools/_vendor`` on sys.path and imports
    ``backports`` and ``jaraco`` from there when they are not installed,
    as on the host.
    """

    def __init__(self, allowed):
        self.allowed = allowed
        self.refused = []

    def _vendored_paths(self):
        """The sys.path entries inside an allowed package's folder."""
        found = []
        for entry in sys.path:
            for site_dir in map(os.path.abspath, site.getsitepackages()):
                rel = os.path.relpath(os.path.abspath(entry), site_dir)
                if (not rel.startswith(os.pardir) and rel != os.curdir and
                        rel.split(os.sep)[0] in self.allowed):
                    found.append(entry)
        return found

    def find_spec(self, name, path, target=None):
        top = name.partition('.')[0]
        # The interpreter's build variables are the standard library's.
        if top in self.allowed or top.startswith('_sysconfigdata_'):
            return None
        if name != top and top in sys.modules:
            return None  # in a vendored package that was let through
        if name == top:
            spec = machinery.PathFinder.find_spec(name,
                                                  self._vendored_paths())
            if spec is not None:
                return spec
        self.refused.append(name)
        raise ModuleNotFoundError('No module named %r (not required on '
                                  'Windows)' % name, name=name)


def main(argv):
    allowed_dists = closure()
    tops = importlib.metadata.packages_distributions()
    allowed = set(sys.stdlib_module_names) | set(sys.builtin_module_names)
    allowed |= OWN | {m.partition('.')[0] for m in sys.modules}
    allowed |= {top for top, dists in tops.items()
                if any(_name(d) in allowed_dists for d in dists)}
    allowed -= {'hvc_driver', 'hvc_sim', 'nova'}
    before = set(sys.modules)
    hide_other_distributions(allowed_dists | {'hyperv-cluster'})
    blocker = Blocker(allowed)
    sys.meta_path.insert(0, blocker)
    failed = None
    module = 'hvc_agent.oswin'
    try:
        from hvc_agent import oswin
        for module in MODULES + [path.rpartition('.')[0] for path in
                                 oswin.OSWIN_CLASSES.values()]:
            importlib.import_module(module)
    except ImportError as e:
        failed = '%s: %s' % (module, e)
    loaded = {m.partition('.')[0] for m in set(sys.modules) - before}
    dists = sorted({d for top in loaded for d in tops.get(top, ())
                    if top not in OWN}, key=str.lower)
    result = {'distributions': dists, 'failed': failed,
              'refused': sorted(set(blocker.refused))}
    if '--json' in argv:
        print(json.dumps(result, indent=1))
    else:
        print('\n'.join(dists))
        if result['refused']:
            print('refused (imported only where installed): %s'
                  % ', '.join(result['refused']))
        if failed:
            print('FAILED: %s' % failed, file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
