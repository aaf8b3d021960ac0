"""What happens to a call: the ARI client, the pure call and menu state machines, the
queue's per-call machine, the I/O edge that runs them (``runtime``) and the prompts.

Never imports the web app, the command line or the process wiring (``hotline``).
"""
