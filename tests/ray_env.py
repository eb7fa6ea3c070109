"""The Ray runtimes the engine tests run on: a local Ray of 2 CPUs, then a simulated two-node cluster.

Test modules import `ray_runtime` from here; it is module-scoped, so each module starts and stops
its own Ray (one at a time), and the requesting module is pickled by value so that its fault hooks
reach Ray's workers and actors whatever their import path holds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module", params=["local", "two_nodes"])
def ray_runtime(request: pytest.FixtureRequest) -> Iterator[str]:
    """A local Ray of 2 CPUs, then a simulated cluster of two 1-CPU nodes (one at a time)."""
    ray = pytest.importorskip("ray")
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(request.module)
    cluster = None
    if request.param == "local":
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)  # ours, not a neighbour's
    else:
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait_for_nodes()
        assert sum(node["Alive"] for node in ray.nodes()) == 2
    try:
        yield request.param
    finally:
        cloudpickle.unregister_pickle_by_value(request.module)
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
