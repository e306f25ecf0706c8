"""Every served list is an impression: its own id in the answer, an event in the outbox.

The impression rides in the next group commit with whatever else is being written, and the
answer does not wait for it: the impressions of one commit share one outbox row
(`ImpressionBatch`), written within a commit's time of the answer. A cached answer is
stored as its impression's list (`served_list` JSON) and the response body without its id;
each copy served from it gets a fresh id spliced in front and names that list as it is.

A request reads `since()` when it starts and hands it back with its list: if the user was
erased meanwhile, the impression is not recorded (`GroupCommitWriter.show`).
"""

import os
import time

from contextiq.events.types import ImpressionSeen, served_list
from contextiq.experiments.runtime import Served
from contextiq.store.group_commit import GroupCommitWriter

_SEPARATOR = b"\n"


def stamp(recommendation_id: str, body: bytes) -> bytes:
    """The body (a JSON object) with `recommendation_id` as its first field."""
    return b'{"recommendation_id":"' + recommendation_id.encode() + b'",' + body[1:]


def time_ordered_id(now_ms: int) -> str:
    """32 hex digits: the time in ms, then 80 random bits (as a UUIDv7 orders). New rows
    land at the end of the impressions table's key index instead of on a random page each,
    which made SQLite write a page per impression."""
    return f"{now_ms:012x}{os.urandom(10).hex()}"


def listed(served: Served) -> str:
    """The served list as its impression records it."""
    return served_list(
        [(i.content_id, round(i.score, 4)) for i in served.result.items],
        served.result.model_version,
        served.experiment,
        served.arm,
        served.teams,
    )


class ImpressionRecorder:
    def __init__(self, writer: GroupCommitWriter, enabled: bool = True) -> None:
        self.writer = writer
        self.enabled = enabled

    @staticmethod
    def cacheable(listing: str, body: bytes) -> bytes:
        """A cache entry: the list's impression JSON (one line), then the body."""
        return listing.encode() + _SEPARATOR + body

    def since(self) -> int:
        """What a request reads when it starts, for `serve` and `serve_cached`."""
        return self.writer.erasures

    def serve(self, user_id: str, listing: str, body: bytes, since: int | None = None) -> bytes:
        return self._record(user_id, listing, body, since)

    def serve_cached(self, user_id: str, stored: bytes, since: int | None = None) -> bytes | None:
        """The answer for a cached entry; None for an entry in another format (a miss)."""
        cut = stored.find(_SEPARATOR)
        if cut < 0:
            return None
        return self._record(user_id, stored[:cut].decode(), stored[cut + 1 :], since)

    def _record(self, user_id: str, listing: str, body: bytes, since: int | None) -> bytes:
        now_ms = time.time_ns() // 1_000_000
        recommendation_id = time_ordered_id(now_ms)
        if self.enabled and not listing.startswith("[[]"):  # an empty list shows nothing
            self.writer.show((recommendation_id, user_id, listing, now_ms), since)
        return stamp(recommendation_id, body)

    async def seen(self, recommendation_id: str, user_id: str, positions: list[int]) -> None:
        """A client rendered only `positions` of the list: the impression counts only those."""
        event = ImpressionSeen(recommendation_id, user_id, tuple(sorted(set(positions))))
        await self.writer.write((), (event,))
