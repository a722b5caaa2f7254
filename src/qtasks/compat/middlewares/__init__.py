"""Holds `qtasks.compat.middlewares.base`; `qtasks.middlewares` itself is a real package."""
