"""The Docker Engine source: containers, stats (cgroup files or the stats API), inspect, logs."""
