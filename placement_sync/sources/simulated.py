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

"""Cluster facts from the simulated world's state file: every cluster in
it (its standalone hosts share nothing), with what each CSV really holds
as the simulator counts it (``hvc_sim.state.physical_bytes``).
"""

from hvc_sim import state as sim_state
from placement_sync import exception
from placement_sync import model
from placement_sync.sources import measure

GiB = 1024 ** 3


def load(state_file, instances_folder=measure.DEFAULT_INSTANCES_FOLDER):
    state = sim_state.ClusterState(state_file)
    try:
        return [cluster(state, name, instances_folder)
                for name in state.clusters()]
    except sim_state.SimulatorError as e:
        # Says what is wrong with the file (missing, not a state file,
        # locked...), in one line.
        raise exception.InvalidInventory(str(e))


def cluster(state, name, instances_folder):
    """Cluster ``name`` of the simulated world ``state`` (a
    ``hvc_sim.state.ClusterState``), as a model.Cluster (SimulatorError
    when the state file cannot be read). hvc-agent serves it to the agent
    source for the simulated node it plays.
    """
    return model.Cluster(
        name=name,
        nodes=tuple(n.name for n in state.nodes(name)),
        shared_volumes=tuple(
            model.SharedVolume(id=v.id, name=v.name, total_gb=v.total_gb,
                               usage=_usage(v, instances_folder))
            for v in state.shared_volumes(name)))


def _usage(volume, instances_folder):
    used = sim_state.folder_physical_bytes(volume.path)
    return model.VolumeUsage(
        used_bytes=used,
        free_bytes=max(volume.total_gb * GiB - used, 0),
        instance_folders=measure.instance_folders(
            volume.path, instances_folder,
            size_of=sim_state.physical_bytes))
