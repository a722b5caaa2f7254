"""Holds `qtasks.compat.tests.base`; `qtasks.tests` itself is a real package."""
