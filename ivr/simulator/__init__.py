"""An ARI simulator: a small, honest fake Asterisk speaking ARI over real HTTP and WebSocket.

It keeps real state (channels, bridges, playbacks, recordings), plays prompts for the
duration of their WAV files, delivers DTMF one digit at a time and produces the event
sequences Asterisk 22 produces. Tests, the demo and ``hotline simulate`` use it; the
controller cannot tell it from Asterisk.
"""

from ivr.simulator.callers import ScriptedCall, ScriptError, parse_call_line, parse_script
from ivr.simulator.server import AriSimulator, serve_forever

__all__ = [
    "AriSimulator",
    "ScriptError",
    "ScriptedCall",
    "parse_call_line",
    "parse_script",
    "serve_forever",
]
