from qtasks.core.argmeta import ArgMeta

__all__ = ["ArgMeta"]
