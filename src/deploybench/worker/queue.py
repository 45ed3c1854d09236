"""The job queue between the service and the boards' agents: Celery over a broker (RabbitMQ), one queue per
target; a message carries only a dispatch id (the job itself is fetched from the service, the model from
its artifact store), is acknowledged only after the result is stored, and is redelivered when the agent
holding it dies."""

from __future__ import annotations

from typing import Any

TASK = "deploybench.measure"
QUEUE_PREFIX = "deploybench.target."


def queue_name(target: str) -> str:
    """The queue of one target's jobs."""
    return f"{QUEUE_PREFIX}{target}"


def celery_app(broker: str) -> Any:
    """A Celery application on the broker, set for one measurement at a time per agent and late
    acknowledgement (a job is lost by no crash: it is redelivered)."""
    from celery import Celery

    app = Celery("deploybench", broker=broker)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=1,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        task_default_delivery_mode="persistent",
        worker_hijack_root_logger=False,
        broker_heartbeat=10,
        worker_enable_remote_control=False,
    )
    return app


def publish(broker: str, dispatch_id: str, target: str) -> None:
    """Put one dispatch on its target's queue (the message survives a broker restart)."""
    app = celery_app(broker)
    with app.connection_for_write() as connection:
        app.send_task(TASK, args=[dispatch_id], queue=queue_name(target), connection=connection)
