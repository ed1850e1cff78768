"""The ``local_cloud`` fixture (basegear.testing) for every test under tests/cloud."""

from basegear.testing import local_cloud

__all__ = ["local_cloud"]
