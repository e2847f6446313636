"""The engine: batched state, the round and the loop. Pure numpy, no I/O."""

from firesale.engine.simulate import Trajectory, simulate_arrays

__all__ = ["Trajectory", "simulate_arrays"]
