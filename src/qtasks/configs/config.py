from qtasks.core.config import QueueConfig, cast_env_value

__all__ = ["QueueConfig", "cast_env_value"]
