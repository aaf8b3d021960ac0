"""An ARI simulator: a small, honest fake Asterisk speaking ARI over real HTTP and WebSocket.

It keeps real state (channels, bridges, playbacks, recordings), plays prompts for the
duration of their WAV files, delivers DTMF one digit at a time and produces the event
sequences Asterisk 22 produces. Tests, the demo and ``hotline simulate`` use it; the
controller cannot tell it from Asterisk. A tool beside the product: nothing of the product
imports it but the demo's wiring and the command line (``hotline simulate``); it imports
only the ARI data formats (``ivr.ari.models``). ``server.AriSimulator`` is the way in.
"""
