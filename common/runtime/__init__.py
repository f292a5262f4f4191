"""The service runtime: what every WorkUp service instance runs around its handlers.

| module | what it holds |
| --- | --- |
| settings.py | RuntimeSettings, from WORKUP_* variables |
| context.py | CommandContext, and the handler and call-hook types |
| registry.py | CommandRegistry: name -> Command, hot updates, rollback |
| loader.py | loads a handler module fresh, under a versioned name |
| routes.py | each command's messages, status and queue, from the protos |
| executor.py | ResizableExecutor: the handler thread pool |
| topology.py | the work queue, its delivery limit, its dead-letter queue |
| consumer.py | Consumer: the I/O thread that owns the broker connection |
| delivery.py | one message, from the I/O thread to a handler and back |
| dispatcher.py | Dispatcher: envelope in, reply and settlement out |
| idempotency.py | IdempotencyGuard: one effect per idempotency key |
| admin.py | AdminServer: gRPC health and Admin |
| admin_security.py | the admin token interceptor and the audit record |
| registration.py | the instance's heartbeat key in Redis |
| backoff.py | capped exponential backoff, one log record per outage |
| service.py | ServiceRuntime: all of the above for one instance |

Import from the modules themselves: this package re-exports nothing, so a
unit test of the registry does not pull in every database driver.
"""
