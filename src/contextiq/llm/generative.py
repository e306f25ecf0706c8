"""Shared shape of chat-model providers: one listwise prompt in, strict JSON out."""

from abc import abstractmethod
from collections.abc import Sequence

from contextiq.llm.base import Candidate, LLMScore, Scorer, UserContext
from contextiq.llm.prompt import Prompt, build_prompt, estimate_tokens
from contextiq.llm.reply import parse_reply


class GenerativeScorer(Scorer):
    """Subclasses only send a prompt and return the model's text (or raise ScorerError)."""

    @abstractmethod
    async def complete(self, prompt: Prompt) -> str: ...

    async def score(
        self, user: UserContext, candidates: Sequence[Candidate]
    ) -> dict[str, LLMScore]:
        if not candidates:
            return {}
        text = await self.complete(build_prompt(user, candidates))
        return parse_reply(text, [c.content_id for c in candidates])

    def estimate_tokens(self, user: UserContext, candidates: Sequence[Candidate]) -> int:
        return estimate_tokens(build_prompt(user, candidates))
