"""The model variants of the thesis, declared once (no Keras import, so configs load fast).

``modules`` counts the Gram modules, and so the 32-wide vectors fused with the pooled deep
features, for every variant: N taps for ``gram`` and ``gramnet``, N pairs for ``pairwise``
(whose default pairs join the N + 1 default taps of ``modules=N + 1``, so 1..5 modules).
"""

from __future__ import annotations

from collections.abc import Sequence

from thesis_lib.errors import ConfigError

# The default tap table (``thesis_lib.models.backbones``) goes up to 6 taps: 5 consecutive pairs.
MAX_DEFAULT_PAIRS = 5

VARIANTS: tuple[str, ...] = ("baseline", "gram", "gramnet", "pairwise")
# Keras' EfficientNetV2 top uses 0.2; GramNet's head uses 0.5.
DEFAULT_DROPOUT: dict[str, float] = {
    "baseline": 0.2,
    "gram": 0.2,
    "gramnet": 0.5,
    "pairwise": 0.2,
}


def check_variant(variant: str) -> str:
    """Return ``variant`` if it is one of ``VARIANTS``, else raise ConfigError."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown model variant {variant!r}; valid: {', '.join(VARIANTS)}")
    return variant


def consecutive_pairs(taps: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs of neighbouring taps in the given order: [t1, t2, t3] -> [(t1, t2), (t2, t3)]."""
    taps = list(taps)
    return list(zip(taps[:-1], taps[1:], strict=True))


def check_pairwise_arguments(modules, taps, pairs) -> list[tuple[str, str]] | None:
    """Check the pairwise network's arguments as far as possible without building a backbone.

    Whether the layer names exist is checked by ``build_model``, which knows the backbone.

    Args:
        modules: the number of pairs when neither ``taps`` nor ``pairs`` is given (1..5).
        taps: layer names to pair consecutively, or None.
        pairs: (a, b) layer-name pairs, or None.

    Returns:
        ``pairs`` as a list of (a, b) tuples, or None when it is not given.

    Raises:
        ConfigError: for taps and pairs both given, malformed pairs, a layer paired with
            itself, a pair named twice (in either order), or a ``modules`` count that has no
            default pairs.
    """
    if pairs is None:
        if taps is None:
            if isinstance(modules, bool) or not isinstance(modules, int) or modules < 1:
                raise ConfigError(
                    f"pairwise needs at least one pair: use modules >= 1, taps=[two or more "
                    f"layers] or pairs=[(a, b), ...]; got modules={modules!r}"
                )
            if modules > MAX_DEFAULT_PAIRS:
                raise ConfigError(
                    f"the default pairs of the pairwise network go up to "
                    f"{MAX_DEFAULT_PAIRS} modules ({MAX_DEFAULT_PAIRS + 1} taps), got "
                    f"modules={modules}; name them with pairs=[...] instead"
                )
        return None
    if taps is not None:
        raise ConfigError("give pairwise either taps=[...] or pairs=[...], not both")
    if isinstance(pairs, str) or not isinstance(pairs, Sequence) or not pairs:
        raise ConfigError(f"pairs must be a non-empty list of (layer, layer) pairs, got {pairs!r}")
    checked: list[tuple[str, str]] = []
    seen: set[frozenset[str]] = set()
    for pair in pairs:
        if (
            isinstance(pair, str)
            or not isinstance(pair, Sequence)
            or len(pair) != 2
            or not all(isinstance(name, str) for name in pair)
        ):
            raise ConfigError(f"each pair must be two layer names (a, b), got {pair!r}")
        a, b = pair
        if a == b:
            raise ConfigError(
                f"pair ({a!r}, {b!r}) pairs a layer with itself; its self-Gram is the 'gram' "
                "variant's module"
            )
        if frozenset(pair) in seen:
            raise ConfigError(f"pair ({a!r}, {b!r}) is named more than once (in either order)")
        seen.add(frozenset(pair))
        checked.append((a, b))
    return checked
