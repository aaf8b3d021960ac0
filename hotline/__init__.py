"""The process wiring at the top: the command line (``cli``), the controller node, the demo
and the site that runs simulator, node and web page together, the scheduler and its jobs.

Nothing of the call core, the agents or the database imports it.
"""

__version__ = "0.1.0"
