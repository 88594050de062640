"""Sources for propagator solves, registered through the ``sources`` hook."""
