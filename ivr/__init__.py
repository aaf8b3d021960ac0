"""ivr: call control over ARI — the ARI client, per-call sessions, the call state machine."""
