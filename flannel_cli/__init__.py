"""The ``flannel`` command: the composition root that starts each part of the system."""
