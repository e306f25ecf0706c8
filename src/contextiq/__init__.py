"""Context IQ: personalized content recommendations."""

import os

# Before torch loads OpenMP: its threads then sleep at a barrier instead of spinning. Training
# shares the machine with serving (and the worker with everything else), and on busy cores a
# spinning thread only burns the CPU its partner needs: a 6,000-item EASE inverse took 22.9 s
# there instead of 7.6 s (docs/benchmarks.md, "Training at scale"). An explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
