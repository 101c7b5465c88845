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

"""Real OpenStack services run locally, each in its own process on
127.0.0.1: ``placement_server`` (placement on sqlite, for the demo, the
benchmarks and placement_sync's tests) and the local cloud of ``make
cloud`` (``cloud``: keystone, placement, glance, neutron and nova on
MariaDB and RabbitMQ, nova-compute on the simulated clusters).
"""
