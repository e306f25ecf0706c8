"""What the consumer side reports: events applied, duplicates dropped, lag, request ids."""

import contextlib
import logging
from collections import Counter as Tally
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from contextiq.events.types import Event, ImpressionBatch, ImpressionRecorded
from contextiq.observability.metrics import CONSUMER_LAG, EVENTS_APPLIED, EVENTS_DUPLICATE

log = logging.getLogger("contextiq.events")

#: Request ids named on one batch line; the debug lines name every event's.
MAX_REQUEST_IDS = 50


def _request_id(event: Event) -> str | None:
    return getattr(getattr(event, "interaction", None), "request_id", None)


def record_applied(delivered: Sequence[Event], fresh: Sequence[Event]) -> None:
    """Count a delivered batch and log it with the ids of the requests that caused it."""
    applied = Tally(e.type for e in fresh if not isinstance(e, ImpressionBatch))
    # A batch counts as the impressions it carries, as they counted when sent one by one.
    applied[ImpressionRecorded.type] += sum(
        len(e.shown) for e in fresh if isinstance(e, ImpressionBatch)
    )
    for kind, n in applied.items():
        if n:
            EVENTS_APPLIED.labels(kind).inc(n)
    repeated = len(delivered) - len(fresh)
    if repeated:
        EVENTS_DUPLICATE.inc(repeated)
    if not fresh:
        return
    if log.isEnabledFor(logging.DEBUG):
        for event in fresh:
            log.debug(
                "applied %s %s",
                event.type,
                event.event_id,
                extra={"request_id": _request_id(event), "fields": {"event_id": event.event_id}},
            )
    if log.isEnabledFor(logging.INFO):
        ids = list(dict.fromkeys(r for e in fresh if (r := _request_id(e))))
        fields: dict[str, Any] = {
            "applied": len(fresh),
            "duplicates": repeated,
            "request_ids": ids[:MAX_REQUEST_IDS],
        }
        if len(ids) > MAX_REQUEST_IDS:
            fields["request_ids_omitted"] = len(ids) - MAX_REQUEST_IDS
        log.info("applied %d events", len(fresh), extra={"fields": fields})


async def record_consumer_lag(consumer: Any, batches: Mapping[Any, Sequence[Any]]) -> None:
    """Per partition: messages behind the partition's end.

    After a batch, the high watermark its fetch reported minus the offset after its last
    record. After an empty poll, each partition's end against the consumer's position: a poll
    comes back empty while a fetch is still on its way too, so it does not mean the partitions
    were read to their end (that was taken for 0, and the gauge read 0 behind a backlog). The
    end is the high watermark the last fetch reported, or, before any fetch did, the broker's
    end offset (one request, only for those).
    """
    if batches:
        for tp, records in batches.items():
            highwater = consumer.highwater(tp)
            if records and highwater is not None:
                lag = highwater - records[-1].offset - 1
                CONSUMER_LAG.labels(str(tp.partition)).set(max(0, lag))
        return
    ends = {tp: consumer.highwater(tp) for tp in consumer.assignment()}
    if unknown := [tp for tp, end in ends.items() if end is None]:
        ends.update(await consumer.end_offsets(unknown))
    for tp, end in ends.items():
        lag = end - await consumer.position(tp)
        CONSUMER_LAG.labels(str(tp.partition)).set(max(0, lag))


def forget_consumer_lag(partitions: Iterable[int]) -> None:
    """Drop the lag of partitions this process no longer owns (a rebalance moved them, or its
    consumer stopped): their new owner reports them, and a value left here would stay in the
    sum the lag alert reads for as long as the process lives."""
    for partition in partitions:
        with contextlib.suppress(KeyError):  # never read before it went
            CONSUMER_LAG.remove(str(partition))
