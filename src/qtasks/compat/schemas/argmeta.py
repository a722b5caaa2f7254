"""`qtasks.schemas.argmeta` (QTasks 1.7): `ArgMeta`, from `qtasks.core.argmeta`."""

from qtasks.core.argmeta import ArgMeta

__all__ = ["ArgMeta"]
