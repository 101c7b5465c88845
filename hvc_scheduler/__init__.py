"""Nova scheduler plugins for Hyper-V clusters: keep a moved instance's
disk on its CSV, and prefer the nodes of its own cluster.

nova.conf of nova-scheduler::

    [filter_scheduler]
    available_filters = nova.scheduler.filters.all_filters
    available_filters = hvc_scheduler.filters.HyperVClusterKeepCSVFilter
    enabled_filters = ...,HyperVClusterKeepCSVFilter
    weight_classes = nova.scheduler.weights.all_weighers,
        hvc_scheduler.weighers.HyperVClusterSameClusterWeigher

(``weight_classes`` is one comma separated line.)
"""
