"""The job queue between the service and the boards' agents: Celery over a broker (RabbitMQ), one queue per
target; a message carries only a dispatch id (the job itself is fetched from the service, the model from
its artifact store), is acknowledged only after the result is stored, and is redelivered when the agent
holding it dies."""

from __future__ import annotations

from functools import cache
from typing import Any

from deploybench.core.errors import DeploybenchError

TASK = "deploybench.measure"
PUBLISH_RETRY = {"max_retries": 3, "interval_start": 0.5, "interval_step": 1.0, "interval_max": 2.0}
"""How long a publication is retried while the broker cannot be reached (about 5 s)."""
QUEUE_PREFIX = "deploybench.target."


def queue_name(target: str) -> str:
    """The queue of one target's jobs."""
    return f"{QUEUE_PREFIX}{target}"


def celery_app(broker: str) -> Any:
    """A Celery application on the broker, set for one measurement at a time per agent and late
    acknowledgement (a job is lost by no crash: it is redelivered). The heartbeat is checked ten times a second:
    the solo pool's event loop otherwise sometimes leaves a job already delivered waiting until the next check
    (seen here: a 3.3 s stall every few dozen jobs with the default rate, 1 s at ten times it)."""
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
        broker_heartbeat_checkrate=100.0,
        worker_enable_remote_control=False,
    )
    return app


class BrokerUnavailable(DeploybenchError):
    """The broker could not take a message."""


@cache
def _publisher(broker: str) -> Any:
    """One Celery application per broker for publishing, so its connection pool is reused across jobs."""
    return celery_app(broker)


def publish(broker: str, dispatch_id: str, target: str) -> None:
    """Put one dispatch on its target's queue (the message survives a broker restart); BrokerUnavailable when
    the broker cannot be reached after a few retries."""
    from kombu.exceptions import OperationalError

    try:
        _publisher(broker).send_task(
            TASK, args=[dispatch_id], queue=queue_name(target), retry=True, retry_policy=PUBLISH_RETRY
        )
    except (OperationalError, OSError) as exc:
        raise BrokerUnavailable(f"the broker cannot take the job ({exc})") from exc
