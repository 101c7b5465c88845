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

"""The simulated cluster's os-win: utils classes on the hvc-sim state file.

Each class implements the subset of an os-win utils class that the driver
calls, with the same method names, signatures, return shapes and
exceptions (os-win's classes, as ``hvc_oswin_api.exceptions`` names them:
no os-win, and so no eventlet, is imported); ``tests/unit/sim/test_oswin``
checks the signatures against the installed os-win. VMs, disks, NICs and
cluster groups live in the shared state file, so that every nova-compute
service of one simulated cluster sees the same cluster, as real nodes do.
Virtual disks are real files under the instances path whose content
describes the disk (format, virtual size, parent), so file operations
(pathutils) and disk operations (vhdutils) stay consistent.

A fault armed with ``hvc-sim fail KIND.METHOD`` (or
``ClusterState.arm_fault``) makes the next call of that method raise the
os-win exception a failing Hyper-V call raises.

The modules are laid out as os-win's under ``os_win/utils`` (with
``storage/virtdisk/vhdutils.py`` as ``storage/vhdutils.py``), each class
in the module of the same name; ``utilsfactory.UTILS_CLASSES`` maps the
kinds to the classes, and ``base`` holds what they share.
"""
