"""The ``local_cloud`` and ``manual_clock`` fixtures (basegear.testing) for every test under
tests/cloud."""

from basegear.testing import local_cloud, manual_clock

__all__ = ["local_cloud", "manual_clock"]
