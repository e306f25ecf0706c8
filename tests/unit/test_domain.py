from contextiq.config import Settings
from contextiq.domain import InteractionType, interaction_weight

SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]


def test_weights_order_view_like_save_share_and_negatives() -> None:
    w = {t: interaction_weight(SETTINGS, t) for t in InteractionType}
    assert w[InteractionType.VIEW] < w[InteractionType.LIKE] < w[InteractionType.SAVE]
    assert w[InteractionType.SAVE] < w[InteractionType.SHARE]
    assert w[InteractionType.DISLIKE] < 0
    assert w[InteractionType.SKIP] < 0


def test_longer_views_weigh_more_up_to_a_cap() -> None:
    short = interaction_weight(SETTINGS, InteractionType.VIEW, 10)
    long = interaction_weight(SETTINGS, InteractionType.VIEW, 60)
    endless = interaction_weight(SETTINGS, InteractionType.VIEW, 100_000)
    assert 1.0 < short < long < endless
    assert endless == SETTINGS.weight_view * SETTINGS.view_duration_cap
    assert interaction_weight(SETTINGS, InteractionType.LIKE, 500) == SETTINGS.weight_like


def test_weights_are_configurable() -> None:
    custom = Settings(_env_file=None, weight_like=7.5)  # type: ignore[call-arg]
    assert interaction_weight(custom, InteractionType.LIKE) == 7.5
