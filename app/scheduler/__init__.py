"""GPU placement: the pure policy (where pending jobs start) and the simulator that measures it."""
