"""The benchmark harness behind bench/run.py, one module per concern:

- common: paths, constants, logging
- workloads: what is requested
- servers: which servers, and the A/B pairs compared
- procs: starting, stopping and measuring process trees
- httpcheck: readiness and smoke checks
- templates: generated applications, wrk scripts and Apache configurations
- environment: tools, venv, applications, build, versions
- launch: server command lines and start-up
- measure: wrk runs, rounds, setup-server timing, soak
- report: medians, ratios, Markdown and JSON
- cli: options and main()
"""
