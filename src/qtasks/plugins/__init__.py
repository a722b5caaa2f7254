"""Plugins: `BasePlugin` and the built-in ones."""

from qtasks.plugins.base import BasePlugin

__all__ = ["BasePlugin"]
