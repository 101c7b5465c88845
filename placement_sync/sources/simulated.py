"""Cluster facts from the simulated world's state file: every cluster in
it (its standalone hosts share nothing)."""

from hvc_sim import state as sim_state
from placement_sync import exception
from placement_sync import model


def load(state_file):
    state = sim_state.ClusterState(state_file)
    try:
        nodes = state.nodes()
        volumes = state.shared_volumes()
        return [
            model.Cluster(
                name=cluster,
                nodes=tuple(n.name for n in nodes if n.cluster == cluster),
                shared_volumes=tuple(
                    model.SharedVolume(id=v.id, name=v.name,
                                       total_gb=v.total_gb)
                    for v in volumes if v.cluster == cluster))
            for cluster in state.clusters()]
    except sim_state.SimulatorError as e:
        # Says what is wrong with the file (missing, not a state file,
        # locked...), in one line.
        raise exception.InvalidInventory(str(e))
