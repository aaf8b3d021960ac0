"""What monitoring sees of a hotline process: readiness checks (``health``), the Prometheus
text format (``metrics``), a controller node's figures (``node_metrics``) and its own
``/healthz`` + ``/metrics`` endpoint (``ops_server``); the web app serves the same for its
process (``webapp/ops.py``). Reads the node through protocols: never imports the process
wiring (``hotline``), the web app or the command line.
"""
