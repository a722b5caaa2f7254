"""`memory://[name]`: an in-process backend for tests and embedding.

```
  backend.py   MemoryBackend: the port contracts, waits as flows of `Pause` steps
  store.py     the state shared by every backend object on one URL, and its operations
```
"""

from __future__ import annotations

from qtasks.backends.memory.backend import MemoryBackend

__all__ = ["MemoryBackend"]
