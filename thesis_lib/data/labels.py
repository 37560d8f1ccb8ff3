"""Label schemes: which classes a model predicts and how each dataset's raw labels map to them.

Raw labels differ between datasets ("sad", "Sadness", "joy" vs "happiness", WEBEmo's
fine-grained categories). ``canonical_emotion`` normalises them; a scheme then maps the
canonical emotion to a class index, or to None when the image does not belong to the scheme
(such images are dropped with a reason, never guessed).

Schemes:
    "sadness"            binary, class names ["not_sadness", "sadness"] (the thesis task)
    "binary:<emotion>"   one-vs-rest for any emotion; every raw label maps (emotion -> 1)
    "mikels8"            amusement, awe, contentment, excitement, anger, disgust, fear,
                         sadness (EmoSet's order)
    "thesis7"            joy, love, sadness, surprise, confusion, anger, fear
    "folders"            one class per raw label, sorted by name

The sentiment of the Mikels categories (Mikels et al. 2005) and the vocabularies of the art
datasets with their mapping onto Mikels-8 live here too, beside the other label mappings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from thesis_lib.errors import ConfigError, DataError

MIKELS8 = ["amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear", "sadness"]
THESIS7 = ["joy", "love", "sadness", "surprise", "confusion", "anger", "fear"]

# Spellings seen in public datasets -> one canonical emotion name.
SYNONYMS = {
    "sad": "sadness", "sorrow": "sadness", "unhappy": "sadness",
    "happy": "joy", "happiness": "joy", "joyful": "joy",
    "amused": "amusement", "funny": "amusement",
    "angry": "anger", "anger": "anger",
    "afraid": "fear", "scared": "fear", "fearful": "fear",
    "disgusted": "disgust", "disgusting": "disgust",
    "surprised": "surprise",
    "excited": "excitement",
    "content": "contentment", "contented": "contentment",
    "awed": "awe",
    "loving": "love",
    "confused": "confusion",
}  # fmt: skip

# WEBEmo's 25 fine-grained categories grouped under the 7 thesis emotions, following Parrott's
# (2001) emotion tree, on which WEBEmo's hierarchy is built. Categories that exist in the
# target schemes themselves (sadness, surprise, confusion, contentment, disgust) keep their
# own name so that "mikels8" can still use them; WEBEmo's "disgust" (under anger in Parrott's
# tree) is left out because FI and Emotion6 use "disgust" as a class of its own.
WEBEMO_TO_THESIS7 = {
    "affection": "love", "lust": "love", "gratitude": "love",
    "cheerfulness": "joy", "cheerfullness": "joy", "zest": "joy", "optimism": "joy",
    "pride": "joy", "enthrallment": "joy", "relief": "joy", "contentment": "joy",
    "surprise": "surprise",
    "confusion": "confusion",
    "irritability": "anger", "irritabilty": "anger", "exasperation": "anger", "rage": "anger",
    "envy": "anger",
    "suffering": "sadness", "sadness": "sadness", "disappointment": "sadness",
    "shame": "sadness", "neglect": "sadness", "sympathy": "sadness",
    "horror": "fear", "nervousness": "fear",
}  # fmt: skip

POSITIVE = "positive"
NEGATIVE = "negative"
MIKELS8_SENTIMENT = {
    "amusement": POSITIVE, "awe": POSITIVE, "contentment": POSITIVE, "excitement": POSITIVE,
    "anger": NEGATIVE, "disgust": NEGATIVE, "fear": NEGATIVE, "sadness": NEGATIVE,
}  # fmt: skip

# WikiArt Emotions (Mohammad & Kiritchenko, LREC 2018): the 20 categories of its annotation
# questionnaire, in the order of the distributed TSV columns, and the paper's grouping into
# positive, negative and "other or mixed" emotions (None here).
WIKIART_EMOTIONS = [
    "agreeableness", "anger", "anticipation", "arrogance", "disagreeableness", "disgust", "fear",
    "gratitude", "happiness", "humility", "love", "optimism", "pessimism", "regret", "sadness",
    "shame", "shyness", "surprise", "trust", "neutral",
]  # fmt: skip
WIKIART_SENTIMENT: dict[str, str | None] = {
    "gratitude": POSITIVE, "happiness": POSITIVE, "humility": POSITIVE, "love": POSITIVE,
    "optimism": POSITIVE, "trust": POSITIVE,
    "anger": NEGATIVE, "arrogance": NEGATIVE, "disgust": NEGATIVE, "fear": NEGATIVE,
    "pessimism": NEGATIVE, "regret": NEGATIVE, "sadness": NEGATIVE, "shame": NEGATIVE,
    "agreeableness": None, "anticipation": None, "disagreeableness": None, "surprise": None,
    "shyness": None, "neutral": None,
}  # fmt: skip
# WikiArt's 20 emotions onto Mikels-8. They do not correspond one to one; this is a choice:
# - the four negative Mikels categories exist in WikiArt under the same name;
# - WikiArt's "happiness" is defined in its questionnaire as "happiness, calmness, pleasure, or
#   ecstasy", i.e. pleasant calm: Mikels' contentment;
# - regret and shame lie under sadness in Parrott's (2001) emotion tree, and so does
#   pessimism read as hopelessness; ``WEBEMO_TO_THESIS7`` follows the same tree (shame ->
#   sadness there too);
# - the other positive emotions (gratitude, humility, love, optimism, trust), arrogance and the
#   "other or mixed" ones have no Mikels counterpart: they map to nothing. A painting then
#   counts only through its mapped emotions, and one with none is reported as unmapped.
WIKIART_TO_MIKELS8 = {
    "anger": "anger", "disgust": "disgust", "fear": "fear", "sadness": "sadness",
    "happiness": "contentment",
    "regret": "sadness", "shame": "sadness", "pessimism": "sadness",
}  # fmt: skip

# ArtEmis (Achlioptas et al., CVPR 2021): the 8 Mikels categories plus "something else",
# the choice of annotators whose reaction fits none of them (normalised: "something_else").
ARTEMIS_SOMETHING_ELSE = "something_else"
ARTEMIS_EMOTIONS = [*MIKELS8, ARTEMIS_SOMETHING_ELSE]

# Why an art-dataset record gets no label (reasons of the skip report).
REASON_NO_EMOTION = "no emotion"
REASON_UNMAPPED = "no Mikels emotion"
REASON_BOTH_SENTIMENTS = "both sentiments"
REASON_SEVERAL_CLASSES = "several Mikels emotions"
REASON_TIE = "tied emotions"
REASON_SOMETHING_ELSE = "something else"

KNOWN_EMOTIONS = sorted(set(MIKELS8) | set(THESIS7) | {"surprise", "neutral"})
SCHEME_NAMES = ["sadness", "binary:<emotion>", "mikels8", "thesis7", "folders"]


def normalize_label(raw: object) -> str:
    """Lower case, words joined by "_", surrounding spaces, digits and punctuation removed."""
    text = str(raw).strip().lower()
    text = re.sub(r"^\d+[\s_.-]*", "", text)  # "01_sadness" -> "sadness"
    return re.sub(r"[\s\-./]+", "_", text).strip("_")


def canonical_emotion(raw: object) -> str:
    """The canonical emotion of a raw label ("Sad" -> "sadness"); others only normalised."""
    name = normalize_label(raw)
    return SYNONYMS.get(name, name)


@dataclass(frozen=True)
class LabelScheme:
    """A set of classes and the rule mapping raw labels onto them.

    Args:
        name: The scheme's name (as given to ``get_scheme``).
        class_names: Class names in index order.
        positive: For binary one-vs-rest schemes, the emotion of index 1.
        aliases: Extra raw-label -> class-name mappings applied after normalisation.
        exact: Match raw labels to class names as written, without normalisation ("folders").
    """

    name: str
    class_names: list[str]
    positive: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    exact: bool = False

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def map_label(self, raw: object) -> int | None:
        """The class index of a raw label, or None when the label is outside the scheme."""
        if raw is None or not str(raw).strip():
            return None
        if self.exact:
            raw = str(raw)
            return self.class_names.index(raw) if raw in self.class_names else None
        emotion = canonical_emotion(raw)
        if self.positive is not None:
            # One-vs-rest: every label maps; fine-grained names count for their parent emotion.
            hit = emotion == self.positive or self.aliases.get(emotion) == self.positive
            return 1 if hit else 0
        name = emotion if emotion in self.class_names else self.aliases.get(emotion)
        return self.class_names.index(name) if name in self.class_names else None

    def drop_reason(self, raw: object) -> str:
        """Why ``map_label(raw)`` is None, for skip reports."""
        return f"label '{raw}' is not in scheme '{self.name}' ({', '.join(self.class_names)})"


@dataclass(frozen=True)
class LabelDecision:
    """The one label given to a record with several annotations, or why there is none.

    Args:
        label: The Mikels-8 emotion, or None when the record gets no label.
        sentiment: ``"positive"``, ``"negative"`` or None.
        reason: None, or one of the ``REASON_*`` categories for the skip report.
        detail: A readable account of the annotations (for the report).
    """

    label: str | None
    sentiment: str | None
    reason: str | None = None
    detail: str = ""


def wikiart_to_mikels(emotions: Iterable[str]) -> LabelDecision:
    """One Mikels-8 label for a WikiArt Emotions record annotated with ``emotions``.

    The rules, in order: 1. no emotion at all: "no emotion"; 2. emotions of both sentiments
    (``WIKIART_SENTIMENT``; emotions without one do not count): "both sentiments"; 3. none with
    a Mikels counterpart (``WIKIART_TO_MIKELS8``): "no Mikels emotion"; 4. two or more Mikels
    categories: "several Mikels emotions" (picking one by a fixed order would bias the
    classes); 5. otherwise the one Mikels category, with its sentiment.

    Args:
        emotions: WikiArt emotion names present in the record (any order; duplicates ignored).

    Raises:
        DataError: a name that is not one of the 20 WikiArt emotions.
    """
    present = sorted(set(emotions))
    unknown = [name for name in present if name not in WIKIART_SENTIMENT]
    if unknown:
        raise DataError(f"unknown WikiArt emotion(s) {', '.join(map(repr, unknown))}; "
                        f"known: {', '.join(WIKIART_EMOTIONS)}")
    present.sort(key=WIKIART_EMOTIONS.index)  # the TSV's order, in reports
    named = ", ".join(present)
    if not present:
        return LabelDecision(None, None, REASON_NO_EMOTION, "no emotion at this agreement level")
    sentiments = {WIKIART_SENTIMENT[name] for name in present} - {None}
    if len(sentiments) > 1:
        return LabelDecision(None, None, REASON_BOTH_SENTIMENTS,
                             f"emotions {named} are of both sentiments")
    sentiment = sentiments.pop() if sentiments else None
    mikels = sorted({WIKIART_TO_MIKELS8[name] for name in present if name in WIKIART_TO_MIKELS8},
                    key=MIKELS8.index)
    if not mikels:
        return LabelDecision(None, sentiment, REASON_UNMAPPED,
                             f"emotions {named} have no Mikels-8 counterpart")
    if len(mikels) > 1:
        return LabelDecision(None, sentiment, REASON_SEVERAL_CLASSES,
                             f"emotions {named} map to {', '.join(mikels)}")
    return LabelDecision(mikels[0], MIKELS8_SENTIMENT[mikels[0]], None, f"emotions {named}")


def majority_emotion(votes: dict[str, int]) -> LabelDecision:
    """The label of an ArtEmis painting: the emotion chosen by the most annotators.

    Ties get no label ("tied emotions"): any order of preference would move paintings into the
    classes that come first. A "something else" majority gets none either; those votes still
    count, so 2 x sadness, 1 x fear and 2 x something else is a tie.

    Args:
        votes: Utterances per emotion (``ARTEMIS_EMOTIONS`` names; missing ones count 0).
    """
    counts = {name: int(votes.get(name, 0)) for name in ARTEMIS_EMOTIONS}
    top = max(counts.values())
    winners = [name for name, count in counts.items() if count == top]
    shown = ", ".join(f"{name} {count}" for name, count in counts.items() if count)
    if top == 0:
        return LabelDecision(None, None, REASON_NO_EMOTION, "no utterance")
    if len(winners) > 1:
        return LabelDecision(None, None, REASON_TIE, f"no majority ({shown})")
    if winners[0] == ARTEMIS_SOMETHING_ELSE:
        return LabelDecision(None, None, REASON_SOMETHING_ELSE,
                             f"most annotators chose something else ({shown})")
    return LabelDecision(winners[0], MIKELS8_SENTIMENT[winners[0]], None, shown)


def binary_scheme(emotion: str) -> LabelScheme:
    """One-vs-rest for ``emotion``: class names ["not_<emotion>", "<emotion>"]."""
    positive = canonical_emotion(emotion)
    known = set(KNOWN_EMOTIONS) | set(WEBEMO_TO_THESIS7)
    if positive not in known:
        raise ConfigError(
            f"unknown emotion '{emotion}' for a binary scheme; known: {', '.join(sorted(known))}"
        )
    name = "sadness" if positive == "sadness" else f"binary:{positive}"
    return LabelScheme(name, [f"not_{positive}", positive], positive=positive,
                       aliases=dict(WEBEMO_TO_THESIS7))


def get_scheme(name: str, raw_labels: Iterable[object] | None = None) -> LabelScheme:
    """A label scheme by name.

    Args:
        name: "sadness", "binary:<emotion>", "mikels8", "thesis7" or "folders".
        raw_labels: The dataset's raw labels; needed by "folders" (one class per label).

    Raises:
        ConfigError: an unknown scheme or emotion, or "folders" without labels.
    """
    key = str(name).strip().lower()
    if key == "sadness":
        return binary_scheme("sadness")
    if key.startswith("binary:"):
        return binary_scheme(key.split(":", 1)[1])
    if key == "mikels8":
        return LabelScheme("mikels8", list(MIKELS8))
    if key == "thesis7":
        return LabelScheme("thesis7", list(THESIS7), aliases=dict(WEBEMO_TO_THESIS7))
    if key == "folders":
        labels = sorted({str(label) for label in (raw_labels if raw_labels is not None else ())
                     if str(label).strip()})
        if len(labels) < 2:
            raise ConfigError(
                "scheme 'folders' needs the dataset's labels (at least two); "
                f"got {labels or 'none'}"
            )
        return LabelScheme("folders", labels, exact=True)
    raise ConfigError(f"unknown label scheme '{name}'; valid: {', '.join(SCHEME_NAMES)}")
