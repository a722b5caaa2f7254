"""Holds `qtasks.compat.asyncio.qtasks`; `qtasks.asyncio` itself is a real package."""
