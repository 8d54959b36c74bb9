"""Where the public API's calls go besides the embedded local cluster (core/): a real Ray
cluster (ray_cluster.py)."""
