"""The pure core: what every other room of qtasks depends on, and which depends on nothing
of theirs. Standard library and `qtasks.exc` only (plus orjson for JSON), no asyncio,
no driver, no I/O.

- `models`: `TaskSpec`, `TaskRecord`, `Delivery`, `Completion`
- `status`: `TaskStatus` and the named status sets
- `config`: `QueueConfig`
- `ports`: the contracts backends implement (`Broker`, `ResultStore`, `Backend`) and
  their `Capabilities`
- `runtime`: the `Runtime` protocol, what the engine sees of an app; `log`: `Log`
- `hooks`: every plugin hook, typed, and the runner
- `policy`: outcome, retry and backoff, eta; `records`: building a new record
- `codec`: JSON encoding; `steps`: the one sans-I/O step driver
"""
