"""Where QTasks 1.7's import paths live now: the table `qtasks._compat_hook` reads.

Only module paths, as strings: this module imports nothing, so reading the table never
loads `qtasks.compat`. The package docstring of `qtasks.compat` explains the mechanism and
each decision.
"""

#: An original module path -> the compat module that *is* that module (one object, reached
#: by both names). Submodules of a package listed here follow it by prefix.
MODULES: dict[str, str] = {
    "qtasks.qtasks": "qtasks.compat.qtasks",
    "qtasks.asyncio.qtasks": "qtasks.compat.asyncio.qtasks",
    "qtasks.base": "qtasks.compat.base",
    "qtasks.base.qtasks": "qtasks.compat.base.qtasks",
    "qtasks.brokers": "qtasks.compat.brokers",
    "qtasks.storages": "qtasks.compat.storages",
    "qtasks.workers": "qtasks.compat.workers",
    "qtasks.configs.config": "qtasks.compat.configs.config",
    "qtasks.enums": "qtasks.compat.enums",
    "qtasks.enums.task_status": "qtasks.compat.enums.task_status",
    "qtasks.events.base": "qtasks.compat.events.base",
    "qtasks.events.events": "qtasks.compat.events.events",
    "qtasks.exc.plugins": "qtasks.compat.exc.plugins",
    "qtasks.exc.task": "qtasks.compat.exc.task",
    "qtasks.executors": "qtasks.compat.executors",
    "qtasks.executors.base": "qtasks.compat.executors.base",
    "qtasks.middlewares.base": "qtasks.compat.middlewares.base",
    "qtasks.results": "qtasks.compat.results",
    "qtasks.schemas": "qtasks.compat.schemas",
    "qtasks.schemas.argmeta": "qtasks.compat.schemas.argmeta",
    "qtasks.schemas.global_config": "qtasks.compat.schemas.global_config",
    "qtasks.schemas.inits": "qtasks.compat.schemas.inits",
    "qtasks.schemas.task": "qtasks.compat.schemas.task",
    "qtasks.schemas.task_cls": "qtasks.compat.schemas.task_cls",
    "qtasks.schemas.task_exec": "qtasks.compat.schemas.task_exec",
    "qtasks.schemas.test": "qtasks.compat.schemas.test",
    "qtasks.tests.base": "qtasks.compat.tests.base",
    "qtasks.types": "qtasks.compat.types",
    "qtasks.utils.tasks": "qtasks.compat.utils.tasks",
    "qtasks.utils.tasks.async_task_utils": "qtasks.compat.utils.tasks.async_task_utils",
    "qtasks.utils.tasks.sync_task_utils": "qtasks.compat.utils.tasks.sync_task_utils",
    "qtasks.utils.tasks.chains": "qtasks.compat.utils.tasks.chains",
    "qtasks.utils.tasks.chains.async_chains": "qtasks.compat.utils.tasks.chains.async_chains",
    "qtasks.utils.tasks.chains.sync_chains": "qtasks.compat.utils.tasks.chains.sync_chains",
}

#: A real module of ours -> (the compat module holding them, the 1.7 names it no longer
#: defines). The real module's `__getattr__` finds them here by name.
NAMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "qtasks.configs": (
        "qtasks.compat.configs",
        ("AsyncRedisGlobalConfig", "SyncRedisGlobalConfig"),
    ),
    "qtasks.events": ("qtasks.compat.events", ("BaseOnEvents",)),
    "qtasks.plugins": (
        "qtasks.compat.plugins",
        (
            "AsyncDependsPlugin",
            "SyncDependsPlugin",
            "AsyncPydanticWrapperPlugin",
            "SyncPydanticWrapperPlugin",
            "AsyncStatePlugin",
            "SyncStatePlugin",
        ),
    ),
    "qtasks.plugins.depends": (
        "qtasks.compat.plugins",
        ("AsyncDependsPlugin", "SyncDependsPlugin"),
    ),
    "qtasks.plugins.pydantic": (
        "qtasks.compat.plugins",
        ("AsyncPydanticWrapperPlugin", "SyncPydanticWrapperPlugin"),
    ),
    "qtasks.plugins.states": (
        "qtasks.compat.plugins",
        ("AsyncStatePlugin", "SyncStatePlugin"),
    ),
    "qtasks.registries": (
        "qtasks.compat.registries",
        ("AsyncTask", "SyncTask", "TaskRegistry"),
    ),
    "qtasks.utils": ("qtasks.compat.utils", ("AsyncTaskUtils", "SyncTaskUtils")),
}
