"""The I/O edge of call control: sessions, the command executor, the controller.

Everything that talks to ARI or the database lives here; the decisions live in
``ivr.call`` (pure state machines).
"""
