"""Locust entry points shipped with the package: what `harness run` and `harness worker` hand to `locust -f`."""
