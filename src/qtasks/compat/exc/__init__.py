"""Holds `qtasks.compat.exc.task` and `.plugins`; `qtasks.exc` itself is a real package."""
