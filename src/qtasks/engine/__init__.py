"""The one async engine: worker loop, executor and server lifecycle."""
