"""What a `kafka://` URL says: hosts, topic, partitions, group and the consumer's timeouts.

`kafka://host:port[,host:port]?topic=interactions&partitions=8&group=contextiq-worker`
`&session_timeout_ms=45000&heartbeat_interval_ms=3000`. Read when settings load (without
importing aiokafka), so a wrong URL stops any command with one line.

The session timeout is how long the broker waits without a heartbeat before it hands the
consumer's partitions to another: aiokafka heartbeats from the event loop, which a training
in the same process can hold for seconds (GIL-heavy work), so a short one rebalances the
group in the middle of every training round.
"""

from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import parse_qs, urlsplit

GROUP_ID = "contextiq-worker"


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap: list[str]
    topic: str = "interactions"
    partitions: int = 8
    group: str = GROUP_ID
    session_timeout_ms: int = 45_000
    heartbeat_interval_ms: int = 3_000


#: The URL's parameters: every field but the hosts.
PARAMETERS = [f.name for f in fields(KafkaConfig) if f.name != "bootstrap"]
WHOLE_NUMBERS = {f.name for f in fields(KafkaConfig) if f.type is int}


def parse_kafka_url(url: str) -> KafkaConfig:
    """The URL's settings, its defaults for what it leaves out; ValueError in one line for a
    URL without hosts, an unknown parameter (listing the known ones) or a bad number."""
    parts = urlsplit(url)
    hosts = [h for h in parts.netloc.split(",") if h]
    if not hosts:
        raise ValueError(f"kafka URL needs at least one host:port: {url!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = sorted(set(query) - set(PARAMETERS))
    if unknown:
        raise ValueError(
            f"kafka URL: unknown parameter {', '.join(unknown)}; known: {', '.join(PARAMETERS)}"
        )
    values: dict[str, Any] = {}
    for name, value in query.items():
        if name in WHOLE_NUMBERS and not (value.isdigit() and int(value) > 0):
            raise ValueError(f"kafka URL: {name} must be a whole number above 0, not {value!r}")
        values[name] = int(value) if name in WHOLE_NUMBERS else value
    config = KafkaConfig(hosts, **values)
    if config.heartbeat_interval_ms >= config.session_timeout_ms:
        raise ValueError("kafka URL: heartbeat_interval_ms must be below session_timeout_ms")
    return config
