"""Local, stateful emulator of the Instantly API V2 (standard library only).

``Store`` keeps the state in SQLite, ``SandboxApp`` is the WSGI application and
``SandboxServer`` serves it on a loopback port with latency, rate-limit and fault knobs.
"""
