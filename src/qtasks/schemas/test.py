"""`TestConfig`, from `qtasks.tests`."""

from qtasks.tests import TestConfig

__all__ = ["TestConfig"]
