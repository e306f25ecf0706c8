"""Every served list is an impression: its own id in the answer, an event in the outbox.

The event rides in the next group commit with whatever else is being written, so it is
durable before the answer leaves and costs the request no round trip of its own. A cached
answer is stored as a compact header (what the impression needs) and the response body
without its id; each copy served from it gets a fresh id spliced in front.
"""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from contextiq.events.types import ImpressionRecorded, ImpressionSeen
from contextiq.experiments.runtime import Served
from contextiq.store.group_commit import GroupCommitWriter

_SEPARATOR = b"\n"


def stamp(recommendation_id: str, body: bytes) -> bytes:
    """The body (a JSON object) with `recommendation_id` as its first field."""
    return b'{"recommendation_id":"' + recommendation_id.encode() + b'",' + body[1:]


class ImpressionRecorder:
    def __init__(self, writer: GroupCommitWriter, enabled: bool = True) -> None:
        self.writer = writer
        self.enabled = enabled

    @staticmethod
    def cacheable(served: Served, body: bytes) -> bytes:
        header: list[Any] = [
            [[i.content_id, round(i.score, 4)] for i in served.result.items],
            served.result.model_version,
            served.experiment,
            served.arm,
            served.teams,
        ]
        return json.dumps(header, separators=(",", ":")).encode() + _SEPARATOR + body

    async def serve(self, user_id: str, served: Served, body: bytes) -> bytes:
        items = tuple((i.content_id, round(i.score, 4)) for i in served.result.items)
        return await self._record(
            user_id,
            body,
            items,
            served.result.model_version,
            served.experiment,
            served.arm,
            served.teams,
        )

    async def serve_cached(self, user_id: str, stored: bytes) -> bytes | None:
        """The answer for a cached entry; None for an entry in another format (a miss)."""
        cut = stored.find(_SEPARATOR)
        if cut < 0:
            return None
        items, version, experiment, arm, teams = json.loads(stored[:cut])
        return await self._record(
            user_id,
            stored[cut + 1 :],
            tuple((c, s) for c, s in items),
            version,
            experiment,
            arm,
            None if teams is None else tuple(teams),
        )

    async def _record(
        self,
        user_id: str,
        body: bytes,
        items: tuple[tuple[str, float], ...],
        model_version: str | None,
        experiment: str | None,
        arm: str | None,
        teams: tuple[str, ...] | None,
    ) -> bytes:
        recommendation_id = uuid.uuid4().hex
        if self.enabled and items:
            event = ImpressionRecorded(
                recommendation_id,
                user_id,
                items,
                datetime.now(UTC),
                model_version,
                experiment,
                arm,
                teams,
            )
            await self.writer.write((), (event,))
        return stamp(recommendation_id, body)

    async def seen(self, recommendation_id: str, user_id: str, positions: list[int]) -> None:
        """A client rendered only `positions` of the list: the impression counts only those."""
        event = ImpressionSeen(recommendation_id, user_id, tuple(sorted(set(positions))))
        await self.writer.write((), (event,))
