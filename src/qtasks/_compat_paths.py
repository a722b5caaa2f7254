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
    "qtasks.schemas.task_status": "qtasks.compat.schemas.task_status",
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
    "qtasks.__main__": ("qtasks.compat.cli_stats", ("get_app", "positional")),
    "qtasks.app.base": ("qtasks.compat.chain", ("component_chain", "check_starter")),
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
            "AsyncRetryPlugin",
            "SyncRetryPlugin",
            "AsyncTestPlugin",
            "SyncTestPlugin",
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

_C = "qtasks.compat"
_COMPONENTS = "qtasks.compat.components"
_REDIS = "qtasks.compat.redis_components"
_AMQP = "qtasks.compat.amqp_components"
_PLUGINS = "qtasks.compat.plugins"
_STATS = "qtasks.compat.stats"
_TIMERS = "qtasks.compat.timers"
_GRPC = "qtasks.plugins.grpc.server"

#: An original module that now only names objects living elsewhere -> {name: "module" or
#: "module:attribute"}. The finder builds the module on first import and reads each name
#: when it is first used.
ALIASES: dict[str, dict[str, str]] = {
    "qtasks.brokers.base": {"BaseBroker": _COMPONENTS},
    "qtasks.brokers.async_redis": {"BaseBroker": _COMPONENTS, "AsyncRedisBroker": _REDIS},
    "qtasks.brokers.sync_redis": {"BaseBroker": _COMPONENTS, "SyncRedisBroker": _REDIS},
    "qtasks.brokers.async_rabbitmq": {"BaseBroker": _COMPONENTS, "AsyncRabbitMQBroker": _AMQP},
    "qtasks.brokers.sync_rabbitmq": {"BaseBroker": _COMPONENTS, "SyncRabbitMQBroker": _AMQP},
    "qtasks.brokers.async_kafka": {"BaseBroker": _COMPONENTS, "AsyncKafkaBroker": _COMPONENTS},
    "qtasks.brokers.sync_kafka": {"BaseBroker": _COMPONENTS, "SyncKafkaBroker": _COMPONENTS},
    "qtasks.brokers.async_socket": {"BaseBroker": _COMPONENTS, "AsyncSocketBroker": _COMPONENTS},
    "qtasks.brokers.sync_socket": {"BaseBroker": _COMPONENTS, "SyncSocketBroker": _COMPONENTS},
    "qtasks.storages.base": {"BaseStorage": _COMPONENTS},
    "qtasks.storages.async_redis": {"BaseStorage": _COMPONENTS, "AsyncRedisStorage": _REDIS},
    "qtasks.storages.sync_redis": {"BaseStorage": _COMPONENTS, "SyncRedisStorage": _REDIS},
    "qtasks.configs.base": {"BaseGlobalConfig": _COMPONENTS},
    "qtasks.configs.async_redisglobalconfig": {
        "BaseGlobalConfig": _COMPONENTS,
        "AsyncRedisGlobalConfig": _REDIS,
    },
    "qtasks.configs.sync_redisglobalconfig": {
        "BaseGlobalConfig": _COMPONENTS,
        "SyncRedisGlobalConfig": _REDIS,
    },
    "qtasks.workers.base": {"BaseWorker": _COMPONENTS},
    "qtasks.workers.async_worker": {"BaseWorker": _COMPONENTS, "AsyncWorker": f"{_C}.workers"},
    "qtasks.workers.sync_worker": {"BaseWorker": _COMPONENTS, "SyncThreadWorker": f"{_C}.workers"},
    "qtasks.starters": {"AsyncStarter": _COMPONENTS, "SyncStarter": _COMPONENTS},
    "qtasks.starters.base": {"BaseStarter": _COMPONENTS},
    "qtasks.starters.async_starter": {"BaseStarter": _COMPONENTS, "AsyncStarter": _COMPONENTS},
    "qtasks.starters.sync_starter": {"BaseStarter": _COMPONENTS, "SyncStarter": _COMPONENTS},
    "qtasks.contexts.async_context": {"AsyncContext": "qtasks.contexts"},
    "qtasks.contexts.sync_context": {"SyncContext": "qtasks.contexts"},
    "qtasks.events.async_events": {"AsyncEvents": "qtasks.events"},
    "qtasks.events.sync_events": {"SyncEvents": "qtasks.events"},
    "qtasks.executors.async_task_executor": {
        "BaseTaskExecutor": f"{_C}.executors.base",
        "AsyncTaskExecutor": "qtasks.executors",
    },
    "qtasks.executors.sync_task_executor": {
        "BaseTaskExecutor": f"{_C}.executors.base",
        "SyncTaskExecutor": "qtasks.executors",
    },
    "qtasks.middlewares.task": {
        "BaseMiddleware": "qtasks.middlewares",
        "TaskMiddleware": "qtasks.middlewares",
    },
    "qtasks.results.async_result": {"AsyncResult": f"{_C}.results"},
    "qtasks.results.sync_result": {"SyncResult": f"{_C}.results"},
    "qtasks.routers.async_router": {"AsyncRouter": "qtasks.routers"},
    "qtasks.routers.sync_router": {"SyncRouter": "qtasks.routers"},
    "qtasks.registries.async_task_decorator": {"AsyncTask": f"{_C}.registries"},
    "qtasks.registries.sync_task_decorator": {"SyncTask": f"{_C}.registries"},
    "qtasks.registries.task_registry": {"TaskRegistry": f"{_C}.registries"},
    "qtasks.mixins": {"AsyncPluginMixin": f"{_C}.mixins", "SyncPluginMixin": f"{_C}.mixins"},
    "qtasks.mixins.plugin": {
        "AsyncPluginMixin": f"{_C}.mixins",
        "SyncPluginMixin": f"{_C}.mixins",
    },
    "qtasks.mixins.async_plugin_cache": {"AsyncPluginCacheMixin": f"{_C}.mixins"},
    "qtasks.mixins.sync_plugin_cache": {"SyncPluginCacheMixin": f"{_C}.mixins"},
    "qtasks.plugins.depends.async_depends": {"AsyncDependsPlugin": _PLUGINS},
    "qtasks.plugins.depends.sync_depends": {"SyncDependsPlugin": _PLUGINS},
    "qtasks.plugins.depends.class_depends": {"Depends": "qtasks.plugins.depends"},
    "qtasks.plugins.depends.contexts": {
        "AsyncContextPool": _PLUGINS,
        "SyncContextPool": _PLUGINS,
    },
    "qtasks.plugins.depends.contexts.async_contexts": {"AsyncContextPool": _PLUGINS},
    "qtasks.plugins.depends.contexts.sync_contexts": {"SyncContextPool": _PLUGINS},
    "qtasks.plugins.depends.enums": {"ScopeEnum": "qtasks.plugins.depends"},
    "qtasks.plugins.depends.enums.scope": {"ScopeEnum": "qtasks.plugins.depends"},
    "qtasks.plugins.pydantic.async_pydantic": {"AsyncPydanticWrapperPlugin": _PLUGINS},
    "qtasks.plugins.pydantic.sync_pydantic": {"SyncPydanticWrapperPlugin": _PLUGINS},
    "qtasks.plugins.retries": {"AsyncRetryPlugin": _PLUGINS, "SyncRetryPlugin": _PLUGINS},
    "qtasks.plugins.retries.async_retry": {"AsyncRetryPlugin": _PLUGINS},
    "qtasks.plugins.retries.sync_retry": {"SyncRetryPlugin": _PLUGINS},
    "qtasks.plugins.states.async_state": {
        "AsyncState": "qtasks.plugins.states",
        "AsyncStatePlugin": _PLUGINS,
    },
    "qtasks.plugins.states.sync_state": {
        "SyncState": "qtasks.plugins.states",
        "SyncStatePlugin": _PLUGINS,
    },
    "qtasks.plugins.states.fsm": {
        "AsyncStateRegistry": "qtasks.plugins.states:StateRegistry",
        "SyncStateRegistry": "qtasks.plugins.states:StateRegistry",
        "AsyncState": "qtasks.plugins.states",
        "SyncState": "qtasks.plugins.states",
    },
    "qtasks.plugins.states.registry": {
        "AsyncStateRegistry": "qtasks.plugins.states:StateRegistry",
        "SyncStateRegistry": "qtasks.plugins.states:StateRegistry",
    },
    "qtasks.plugins.testing": {
        "AsyncTestPlugin": f"{_C}.testing",
        "SyncTestPlugin": f"{_C}.testing",
    },
    "qtasks.plugins.testing.async_test": {"AsyncTestPlugin": f"{_C}.testing"},
    "qtasks.plugins.testing.sync_test": {"SyncTestPlugin": f"{_C}.testing"},
    "qtasks.stats": {"AsyncStats": _STATS, "SyncStats": _STATS},
    "qtasks.stats.base": {"BaseStats": _STATS},
    "qtasks.stats.async_stats": {"BaseStats": _STATS, "InspectStats": _STATS, "AsyncStats": _STATS},
    "qtasks.stats.sync_stats": {"BaseStats": _STATS, "InspectStats": _STATS, "SyncStats": _STATS},
    "qtasks.stats.inspect": {"InspectStats": _STATS, "UtilsInspectStats": _STATS},
    "qtasks.stats.inspect.base": {"UtilsInspectStats": _STATS},
    "qtasks.stats.inspect.inspect": {"UtilsInspectStats": _STATS, "InspectStats": _STATS},
    "qtasks.timers": {"AsyncTimer": _TIMERS, "SyncTimer": _TIMERS},
    "qtasks.timers.base": {"BaseTimer": _TIMERS},
    "qtasks.timers.async_timer": {"AsyncTimer": _TIMERS, "BaseTimer": _TIMERS},
    "qtasks.timers.sync_timer": {"SyncTimer": _TIMERS, "BaseTimer": _TIMERS},
    "qtasks.tests.async_testcase": {"AsyncTestCase": "qtasks.tests"},
    "qtasks.tests.sync_testcase": {"SyncTestCase": "qtasks.tests"},
    "qtasks.tests.async_classes": {
        "AsyncTestBroker": f"{_C}.testing",
        "AsyncTestGlobalConfig": f"{_C}.testing",
        "AsyncTestStorage": f"{_C}.testing",
        "AsyncTestWorker": f"{_C}.testing",
    },
    "qtasks.tests.sync_classes": {
        "SyncTestBroker": f"{_C}.testing",
        "SyncTestGlobalConfig": f"{_C}.testing",
        "SyncTestStorage": f"{_C}.testing",
        "SyncTestWorker": f"{_C}.testing",
    },
    "qtasks.types.annotations": {"P": f"{_C}.types", "R": f"{_C}.types"},
    "qtasks.types.typing": {
        "T": f"{_C}.types",
        "TAsyncFlag": f"{_C}.types",
        "TTask": f"{_C}.types",
    },
    "qtasks.utils.app": {"get_app": "qtasks.utils"},
    "qtasks.utils.registry": {"shared_task": "qtasks.utils"},
    "qtasks.utils.builds": {"_build_task": f"{_C}.builds"},
    "qtasks.contrib.django.autodiscover": {"autodiscover_tasks": "qtasks.contrib.django"},
    "qtasks.plugins.grpc.async_grpc": {"AsyncgRPCPlugin": "qtasks.plugins.grpc"},
    "qtasks.plugins.grpc.sync_grpc": {"SyncgRPCPlugin": "qtasks.plugins.grpc"},
    "qtasks.plugins.grpc.services": {
        "AsyncQTasksGRPCServer": _GRPC,
        "AsyncQTasksServiceServicer": _GRPC,
        "SyncQTasksGRPCServer": _GRPC,
        "SyncQTasksServiceServicer": _GRPC,
    },
    "qtasks.plugins.grpc.services.async_server": {
        "AsyncQTasksGRPCServer": _GRPC,
        "AsyncQTasksServiceServicer": _GRPC,
    },
    "qtasks.plugins.grpc.services.async_services": {"AsyncQTasksServiceServicer": _GRPC},
    "qtasks.plugins.grpc.services.sync_server": {
        "SyncQTasksGRPCServer": _GRPC,
        "SyncQTasksServiceServicer": _GRPC,
    },
    "qtasks.plugins.grpc.services.sync_services": {"SyncQTasksServiceServicer": _GRPC},
    "qtasks.contrib.redis": {
        "AsyncRedisCommandQueue": f"{_C}.redis_queue",
        "SyncRedisCommandQueue": f"{_C}.redis_queue",
    },
    "qtasks.contrib.redis.async_queue_client": {"AsyncRedisCommandQueue": f"{_C}.redis_queue"},
    "qtasks.contrib.redis.sync_queue_client": {"SyncRedisCommandQueue": f"{_C}.redis_queue"},
}
