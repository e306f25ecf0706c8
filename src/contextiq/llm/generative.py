"""Shared shape of chat-model providers: one listwise prompt in, strict JSON out."""

from abc import abstractmethod
from collections.abc import Sequence

from contextiq.llm.base import Candidate, LLMScore, MalformedReply, Scorer, UserContext
from contextiq.llm.prompt import Prompt, build_prompt, estimate_tokens
from contextiq.llm.reply import parse_reply

#: A generous bound on characters per output token: a reply longer than its token limit allows
#: comes from a misbehaving server, not from the model.
MAX_CHARS_PER_TOKEN = 32


class GenerativeScorer(Scorer):
    """Subclasses only send a prompt and return the model's text (or raise ScorerError)."""

    @abstractmethod
    async def complete(self, prompt: Prompt) -> str: ...

    async def score(
        self, user: UserContext, candidates: Sequence[Candidate]
    ) -> dict[str, LLMScore]:
        if not candidates:
            return {}
        prompt = build_prompt(user, candidates)
        text = await self.complete(prompt)
        if len(text) > prompt.max_output_tokens * MAX_CHARS_PER_TOKEN:
            # Validating it would hold the event loop (a second for 200,000 items).
            raise MalformedReply(f"reply of {len(text)} characters is longer than asked for")
        return parse_reply(text, [c.content_id for c in candidates])

    def estimate_tokens(self, user: UserContext, candidates: Sequence[Candidate]) -> int:
        return estimate_tokens(build_prompt(user, candidates))
