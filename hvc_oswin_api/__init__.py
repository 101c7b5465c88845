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

"""os-win's interface, without os-win: the constants and exception classes
that the compute driver and the simulated cluster share.

os-win itself cannot be imported where nova 34's nova-compute runs in its
default native-threading mode: ``os_win/__init__.py`` imports eventlet,
which nova-compute then forbids. So the driver speaks in these names; the
simulated cluster raises these classes; and the driver's os-win backend
turns each os-win exception into the class here of the same name (or of
its nearest ancestor's name). The values and the class hierarchy are
those of os-win 5.9 (a unit test compares them with the installed os-win).
"""
