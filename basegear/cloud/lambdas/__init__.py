"""The Lambda runtime: Python handlers run in warm worker processes with AWS semantics.

spec.py         FunctionSpec, InvokeResult and the Invoke API's errors
runtime.py      LambdaRuntime: invoke(), invoke_warm(), concurrency, timeouts, reporting
execution.py    one execution in a worker: its message, result, timeout or crash
pool.py         warm workers of one function version, reuse, recycling, reaping
zygote.py       the pre-warmed parent that forks workers
worker.py       the worker process: handler import, context, error shapes
channel.py      the socket between the runtime and a worker: one frame per message
loop_watch.py   the event loop's watch on a worker's socket, kept between invocations
code_stamps.py  what a worker loaded, so that it can tell its code was edited
environment.py  the handler's environment variables, credentials scrubbed
telemetry.py    log lines, metrics, and the sinks they go to (batched, aggregated)
"""
