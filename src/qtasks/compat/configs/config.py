"""`qtasks.configs.config` (QTasks 1.7): `QueueConfig`, `cast_env_value`, from
`qtasks.core.config`."""

from qtasks.core.config import QueueConfig, cast_env_value

__all__ = ["QueueConfig", "cast_env_value"]
