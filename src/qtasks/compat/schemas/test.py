"""`qtasks.schemas.test` (QTasks 1.7): `TestConfig`, which components of an app a test
keeps real, from `qtasks.tests`."""

from qtasks.tests import TestConfig

__all__ = ["TestConfig"]
