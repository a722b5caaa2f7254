"""Every QTasks 1.7 import path and `Sync*`/`Async*` name that qtasks keeps only for code
written for 1.7, in one package. Nothing else in qtasks imports it (a test walks the
source, `if TYPE_CHECKING:` blocks included); it may import anything.

How the original paths keep importing
-------------------------------------
`qtasks/__init__.py` installs `qtasks._compat_hook.CompatFinder` first on
`sys.meta_path`. The finder reads one table of module paths, `qtasks._compat_paths`
(strings only; it imports nothing):

- `MODULES`, original path -> compat module. `import qtasks.brokers` imports
  `qtasks.compat.brokers` and registers *that same module object* as `qtasks.brokers`
  (as `os.path` is `posixpath`), so identity and `isinstance` hold whichever name was
  used: `qtasks.brokers is sys.modules["qtasks.compat.brokers"]`. The module keeps its
  own `__name__` and `__spec__`. Submodules follow (`import
  qtasks.utils.tasks.chains.sync_chains`), and so does `from qtasks import brokers`.
- `NAMES`, real module of ours -> (compat module, 1.7 names). Where an original path is
  a real module that also holds things of ours, it stays real and its module-level
  `__getattr__` calls `qtasks._compat_hook.compat_attribute(__name__, name)`, which finds
  the name in the table and reads it from the compat module: by name, no import
  statement of compat.

Nothing here is imported before it is asked for: `import qtasks` loads no compat module.
Static type checkers do not run the hook; they see the names under `qtasks.compat.*`.

Decisions, path by path
-----------------------
Moved here whole (the original path only re-exported or aliased; the finder serves it):
`qtasks.qtasks`, `qtasks.asyncio.qtasks`, `qtasks.base(.qtasks)`, `qtasks.brokers`,
`qtasks.storages`, `qtasks.workers`, `qtasks.configs.config`, `qtasks.enums(.task_status)`,
`qtasks.events.base`, `qtasks.events.events`, `qtasks.exc.task`, `qtasks.exc.plugins`,
`qtasks.executors(.base)`, `qtasks.middlewares.base`, `qtasks.results`, `qtasks.schemas`
and its modules, `qtasks.tests.base`, `qtasks.types`, `qtasks.utils.tasks` (with
`async_task_utils`, `sync_task_utils`, `chains`, `chains.async_chains`,
`chains.sync_chains`).

Kept real, 1.7-only names reached through their `__getattr__` (see `NAMES`):
`qtasks.configs` (`QueueConfig` is ours; `*RedisGlobalConfig` here), `qtasks.events`
(`BaseOnEvents`; `AsyncEvents`/`SyncEvents` are the apps' own event classes),
`qtasks.plugins` and `qtasks.plugins.depends`/`.pydantic`/`.states` (the
`Async*Plugin`/`Sync*Plugin` aliases), `qtasks.registries` (`AsyncTask`, `SyncTask`,
`TaskRegistry`), `qtasks.utils` (`AsyncTaskUtils`, `SyncTaskUtils`).

Kept real with no compat part: `qtasks`, `qtasks.asyncio`, `qtasks.routers`,
`qtasks.contexts`, `qtasks.middlewares`, `qtasks.exc`, `qtasks.logs`, `qtasks.tests`,
`qtasks.plugins.base`, `qtasks.contrib.django`, `qtasks._state`, `qtasks.version`.

Where the implementation behind a 1.7 name lives: chains in `qtasks.chains`, results in
`qtasks.app.results`, `TestConfig` in `qtasks.tests`, `InitsExecSchema` is
`qtasks.events.EventHandler`, `TaskExecSchema` is `qtasks.core.models.TaskSpec`. Defined
here, because only 1.7 code uses them: `TaskStatusEnum` (five statuses), the worker
settings holders `AsyncWorker`/`SyncThreadWorker`, `AsyncTaskUtils`/`SyncTaskUtils`,
`GlobalConfigSchema` and the `qtasks.types` type variables. The Redis component names
(`AsyncRedisBroker`, ...) are read lazily from `qtasks.compat.redis_components`.
"""
