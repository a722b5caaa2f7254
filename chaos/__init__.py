"""The chaos suite: real worker processes, real faults, and verdicts on what really ran.

    python -m chaos --short                 # CI: every scenario, sqlite and redis, < 3 min
    python -m chaos --long --backend redis  # the big runs (docs/chaos.md)

See docs/chaos.md for the scenarios and what each asserts.
"""
