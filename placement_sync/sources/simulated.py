"""Cluster facts from the simulated cluster's state file."""

import sqlite3

from hvc_sim import state as sim_state
from placement_sync import exception
from placement_sync import model


def load(state_file):
    state = sim_state.ClusterState(state_file)
    try:
        return [model.Cluster(
            name=state.cluster_name(),
            nodes=tuple(n.name for n in state.nodes()),
            shared_volumes=tuple(
                model.SharedVolume(id=v.id, name=v.name, total_gb=v.total_gb)
                for v in state.shared_volumes()))]
    except sim_state.SimulatorError as e:
        raise exception.InvalidInventory(str(e))
    except sqlite3.Error as e:
        raise exception.InvalidInventory(
            'cannot read the simulated cluster state file %s: %s'
            % (state_file, e))
