"""Event sources with AWS semantics, on the local cloud's virtual clock (``cloud/clock.py``).

- ``mappings.py``      the manager: one poller per event source mapping, started, replaced
                       and stopped as mappings are created, updated and deleted (from a
                       stack or the Lambda API); their status for ``gear events``
- ``streams.py``       DynamoDB Streams as Lambda's pollers see them: item writes captured
                       from moto into several shards, split by partition-key hash
- ``stream_poller.py`` the stream poller: batching, retries, bisect, parallelization,
                       partial batch responses, filters, on-failure destinations
- ``queue_poller.py``  the SQS poller: batches, visibility, partial batch responses,
                       FIFO groups, maximum concurrency, filters
- ``filters.py``       FilterCriteria patterns
- ``async_invoke.py``  asynchronous invocation: the internal queue, retries, event age,
                       dead-letter queues, destinations
- ``notifications.py`` S3 notifications and SNS deliveries to Lambda and SQS
- ``schedules.py``     EventBridge schedule rules (rate and cron) → their targets
- ``destinations.py``  sending a record to an SQS queue, SNS topic, function or event bus
- ``checkpoints.py``   where each stream poller has got to, kept with durable state
- ``context.py``       what every poller is given: clock, invoker, clients, metrics

Every poller calls the cloud through in-process boto3 clients (``motoshim/inprocess.py``), so
what it does — a ReceiveMessage, a DeleteMessage, a message to a dead-letter queue — is journaled
by durable state like any client's request.
"""
