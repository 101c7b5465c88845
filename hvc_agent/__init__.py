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

"""hvc-agent: the Hyper-V host's side of the cluster driver.

nova-compute runs on Linux, one per Hyper-V host, in nova's default
native-threading mode; the agent runs on the host (a Windows service),
holds os-win, and serves what the driver's seam needs (``hvc_agent.app``)
over HTTPS with mutual TLS. With ``--backend simulated`` it serves one
node of the simulated cluster instead.
"""
