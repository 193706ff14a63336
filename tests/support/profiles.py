"""Hypothesis profiles: "quick" for the fast loop, "thorough" for the whole suite in CI.

Plain ``python -m pytest tests/unit`` runs the quick profile, a quarter of
the examples, so the loop takes well under a minute; the README's test
command (what CI runs) passes ``--hypothesis-profile=thorough``. A test that
needs more or fewer examples than the profile's asks for them with
``examples(n)``: ``n`` under the thorough profile, scaled down under the
quick one.
"""

from hypothesis import HealthCheck, settings

QUICK, THOROUGH = "quick", "thorough"
THOROUGH_EXAMPLES = 100
QUICK_EXAMPLES = 25
FEWEST_EXAMPLES = 10


def register() -> None:
    """Register both profiles and load the quick one; ``--hypothesis-profile`` then picks another."""
    common = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile(THOROUGH, max_examples=THOROUGH_EXAMPLES, **common)
    settings.register_profile(QUICK, max_examples=QUICK_EXAMPLES, **common)
    settings.load_profile(QUICK)


def examples(thorough: int) -> int:
    """``thorough`` examples under the thorough profile, in proportion under another (at least a few)."""
    scaled = thorough * settings.default.max_examples // THOROUGH_EXAMPLES
    return max(min(thorough, FEWEST_EXAMPLES), scaled)
