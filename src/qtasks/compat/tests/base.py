"""`qtasks.tests.base` (QTasks 1.7): `BaseTestCase`, from `qtasks.tests`."""

from qtasks.tests import BaseTestCase

__all__ = ["BaseTestCase"]
