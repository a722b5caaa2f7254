"""One module per framework under test, imported inside that framework's own venv.

A module declares, as literals the driver reads without importing it:

    VENV = "celery"                  # bench/peers/.venvs/<VENV>
    BROKERS = ("redis", "rabbitmq")  # the --broker values it runs on

and provides (each may be `async def`, the child runs it with asyncio.run):

    about() -> dict                  # version, concurrency, result_api, notes
    worker() -> list[str]            # argv of ONE worker with the framework's defaults;
                                     #   argv[0] is looked up in the venv's bin/
    enqueue(n, kind) -> float        # n tasks of kind "noop" or "sleep", one call at a
                                     #   time; seconds spent in the loop
    roundtrip(k, budget_s, warmup) -> dict   # common.(a)round_trips(...) of "ping"
    prepare() -> None                # optional: after each broker reset (schemas)

Each task body is one of common.noop/sleep/anoop/asleep, which INCR the Redis counter.
"""
