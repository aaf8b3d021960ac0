"""A caller in a queue: the pure per-call machine (``service.QueueService``), a queue
callback's attempt, listening in. Pure: no I/O; ``agents.engine`` is its I/O edge.
"""
