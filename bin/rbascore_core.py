"""Pure core of the ``rbascore`` search command: risk score arithmetic and the risk message template.

No I/O and no splunklib, so it can be unit-tested on its own and reused by the command's fast CSV path.

Template rules (``message=``):
- ``$field$`` is replaced by that record's value of ``field``; ``$$`` is a literal ``$``.
- A ``$`` that opens no token (no closing ``$``, or a token name with whitespace) is an error, as is an empty
  template, and a template where a field token sits between two literal ``$`` (their output could pair up
  around event data into a token that ES would expand).

Values are neutralised before they are put in the message: ES expands ``$tokens$`` in a result's
``risk_message`` a second time, so every ``$`` that comes from event data is replaced by U+1F4B2 HEAVY DOLLAR
SIGN, which no Unicode normalisation (NFC, NFD, NFKC, NFKD) turns back into ``$``. The look-alikes that NFKC and
NFKD do turn into ``$`` (U+FF04 FULLWIDTH and U+FE69 SMALL DOLLAR SIGN) are replaced the same way, so nothing
between the command and ES's token expansion can make a ``$`` out of event data.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Callable, Mapping, Sequence, Union

DOLLAR_STANDIN = "\U0001f4b2"  # HEAVY DOLLAR SIGN: what a `$` from event data becomes in the message
# Characters that some Unicode normal form turns into `$` (every one, for Unicode 13 to 15.1: tested).
DOLLAR_LOOKALIKES = "\uff04\ufe69"  # FULLWIDTH DOLLAR SIGN, SMALL DOLLAR SIGN
MESSAGE_LIMIT = 1000  # characters of any message to splunkd (a search shows it in full)
TEXT_LIMIT = 80  # characters of a user's value quoted in an error message
MV_SEPARATOR = ", "  # how the values of a multivalue field are joined in the message

# Fields the command must never write: they change what ES does with the result (REFERENCE: ES risk action,
# notable mapfields).
RESERVED_OUTPUT_FIELDS = frozenset({
    "risk_object", "risk_object_type", "risk_object_field", "threat_object", "threat_object_type",
    "threat_object_field", "rule_name", "rule_title", "rule_description", "security_domain", "severity",
    "drilldown_name", "drilldown_search", "drilldown_searches", "drilldown_earliest_offset",
    "drilldown_latest_offset", "default_owner", "default_status", "owner", "status", "urgency",
    "next_steps", "recommended_actions", "investigation_profiles", "orig_sid", "orig_rid", "event_id",
    "_time", "_raw",
})

_DOLLARS_RE = re.compile("[$" + DOLLAR_LOOKALIKES + "]")
_LOOKALIKE_RE = re.compile("[" + DOLLAR_LOOKALIKES + "]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_FIELD_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]*")

Value = Union[str, Sequence[str], None]


class TemplateError(ValueError):
    """The message template cannot be used; the text says what and where."""


def shown(text: str, limit: int = TEXT_LIMIT) -> str:
    """A user's value quoted in an error message, cut to ``limit`` characters so the message stays short."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text):,} characters)"


def clipped(text: str, limit: int) -> str:
    """Any message text cut to about ``limit`` characters."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"... ({len(text):,} characters in all)"


# ------------------------------------------------------------------------------------------------ score


def parse_percent(name: str, text: str) -> Decimal:
    """``impact``/``confidence`` value: a plain decimal number from 0 to 100."""
    stripped = text.strip()
    if not _NUMBER_RE.fullmatch(stripped):
        raise ValueError(f"{name} must be a number from 0 to 100, not {shown(text)}")
    try:
        value = Decimal(stripped)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise ValueError(f"{name} must be a number from 0 to 100, not {shown(text)}") from None
    if not Decimal(0) <= value <= Decimal(100):
        raise ValueError(f"{name} must be from 0 to 100, not {clipped(text, TEXT_LIMIT)}")
    return value


def risk_score(impact: Decimal, confidence: Decimal) -> Decimal:
    """impact x confidence / 100, exactly."""
    return impact * confidence / Decimal(100)


def format_score(score: Decimal) -> str:
    """A number without exponent and without a trailing ``.0`` for whole numbers: 49, 22.5, 0.0025."""
    if score == score.to_integral_value():
        return str(int(score))
    return format(score.normalize(), "f")


def validate_output_field(option: str, name: str) -> str:
    if not _FIELD_NAME_RE.fullmatch(name):
        raise ValueError(f"{option} must be a field name (letters, digits, _ . : -), not {shown(name)}")
    if name.startswith("_"):
        # Splunk's internal fields (_time, _raw, _cd, _bkt, __mv_ twins, ...) all start with an underscore.
        raise ValueError(f"{option}={clipped(name, TEXT_LIMIT)} would overwrite a Splunk internal field (a name "
                         "starting with _)")
    if name in RESERVED_OUTPUT_FIELDS or name.startswith("orig_"):
        raise ValueError(f"{option}={name} would overwrite a field that Splunk ES interprets")
    return name


# ------------------------------------------------------------------------------------------------ template


@dataclass(frozen=True)
class Template:
    """A parsed message template: literal text and field tokens, alternating (``parts[0]`` is literal)."""

    source: str
    literals: tuple[str, ...]  # len(fields) + 1 literal pieces
    fields: tuple[str, ...]  # the field token names, in order (may repeat)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Distinct field names, in order of first use."""
        return tuple(dict.fromkeys(self.fields))

    def render(self, lookup: Callable[[str], Value]) -> str:
        """The message for one record; ``lookup(name)`` gives the field's value (None if absent)."""
        out = [self.literals[0]]
        for name, literal in zip(self.fields, self.literals[1:]):
            out.append(render_value(lookup(name)))
            out.append(literal)
        return "".join(out)

    def render_mapping(self, record: Mapping[str, Value]) -> str:
        return self.render(record.get)

    def missing(self, lookup: Callable[[str], Value]) -> list[str]:
        """Names of the template's fields that are absent or empty in one record."""
        return [name for name in self.field_names if is_empty(lookup(name))]


def parse_template(template: str) -> Template:
    if template is None or template.strip() == "":
        raise TemplateError("message must not be empty")
    bad = _SURROGATE_RE.search(template)
    if bad:
        raise TemplateError(f"message holds a lone surrogate (U+{ord(bad.group()):04X}) at position "
                            f"{bad.start() + 1}: not text")
    literals: list[str] = []
    fields: list[str] = []
    current: list[str] = []
    dollar_positions: list[int] = []  # index into `fields` count at each literal `$`, for the pairing check
    i, n = 0, len(template)
    while i < n:
        j = template.find("$", i)
        if j < 0:
            current.append(template[i:])
            break
        current.append(template[i:j])
        if j + 1 < n and template[j + 1] == "$":
            current.append("$")
            dollar_positions.append(len(fields))
            i = j + 2
            continue
        k = template.find("$", j + 1)
        if k < 0:
            raise TemplateError(
                f"unbalanced $ at position {j + 1} of message: close the token with $ or write $$ for a literal $"
            )
        name = template[j + 1:k]
        if not name.strip() or any(c.isspace() for c in name):
            raise TemplateError(
                f"${clipped(name, TEXT_LIMIT)}$ at position {j + 1} of message is not a field token: "
                "write $$ for a literal $"
            )
        literals.append("".join(current))
        current = []
        fields.append(name)
        i = k + 1
    literals.append("".join(current))
    if dollar_positions and dollar_positions[0] != dollar_positions[-1]:
        raise TemplateError(
            "a field token between two literal $$ in message could let event data form an ES $token$: "
            "move the token or drop a $$"
        )
    return Template(template, tuple(literals), tuple(fields))


# ------------------------------------------------------------------------------------------------ values


def is_empty(value: Value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value == ""
    return all(v is None or v == "" for v in value)


def neutralise(text: str) -> str:
    """Event data in a message: a `$` (or a character that normalises to `$`) can never open or close an ES
    token. ``str.isascii`` is O(1) in CPython, so plain ASCII values cost one scan for `$`."""
    if "$" in text or (not text.isascii() and _LOOKALIKE_RE.search(text)):
        return _DOLLARS_RE.sub(DOLLAR_STANDIN, text)
    return text


def render_value(value: Value) -> str:
    """A field value as message text: multivalues joined with ", ", absent/empty as "", `$` neutralised."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    return neutralise(MV_SEPARATOR.join(v for v in value if v))


_MV_ITEM_RE = re.compile(r"\$((?:\$\$|[^$])*)\$(?:;|$)")


def decode_mv(encoded: str) -> list[str]:
    """A Splunk ``__mv_`` cell (``$a$;$b$``, ``$`` doubled inside values) -> its values."""
    return [m.replace("$$", "$") for m in _MV_ITEM_RE.findall(encoded)]


def describe_missing(counts: Mapping[str, int], total: int) -> str:
    """The once-per-search warning about template fields that rendered empty."""
    parts = [f"{clipped(name, TEXT_LIMIT)} ({count} of {total} records)" for name, count in counts.items()]
    return clipped("rbascore: message fields missing or empty, rendered as empty text: " + ", ".join(parts),
                   MESSAGE_LIMIT)
