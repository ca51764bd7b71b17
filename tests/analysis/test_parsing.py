from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.helpers import reply
from kalbot.analysis.parsing import ReplyError, parse_reply
from kalbot.domain.decisions import Decision


def test_a_valid_reply_parses_to_exact_decimals() -> None:
    parsed = parse_reply(reply("0.73", "0.6", "OPEN_NO", "rates fell"))
    assert parsed.probability_yes == Decimal("0.73")
    assert parsed.confidence == Decimal("0.6")
    assert parsed.decision is Decision.OPEN_NO
    assert parsed.rationale == "rates fell"


def test_a_reply_inside_one_code_fence_is_accepted() -> None:
    parsed = parse_reply("```json\n" + reply("0.2") + "\n```")
    assert parsed.probability_yes == Decimal("0.2")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "reply_empty"),
        ("   ", "reply_empty"),
        ("I think it is likely.", "reply_invalid_json"),
        ('{"probability_yes": 0.7, "confidence": 0.8', "reply_invalid_json"),
        ("[0.7, 0.8]", "reply_not_object"),
        ('"0.7"', "reply_not_object"),
        ('{"confidence": 0.8, "decision": "SKIP", "rationale": ""}', "reply_missing_field"),
        (reply(p='"0.7"'), "reply_bad_type"),
        (reply(p="true"), "reply_bad_type"),
        (reply(p="null"), "reply_bad_type"),
        (reply(p="1.2"), "reply_out_of_range"),
        (reply(p="-0.01"), "reply_out_of_range"),
        (reply(c="1.0001"), "reply_out_of_range"),
        (reply(p="NaN"), "reply_invalid_json"),
        (reply(p="Infinity"), "reply_invalid_json"),
        (reply(decision="BUY"), "reply_bad_decision"),
        (reply(decision="open_yes"), "reply_bad_decision"),
        ('{"probability_yes": 0.5, "confidence": 0.5, "decision": "SKIP"}', "reply_missing_field"),
        (
            '{"probability_yes": 0.5, "confidence": 0.5, "decision": "SKIP", "rationale": 3}',
            "reply_bad_type",
        ),
    ],
)
def test_every_malformed_reply_is_rejected_with_its_reason(text: str, code: str) -> None:
    with pytest.raises(ReplyError) as info:
        parse_reply(text)
    assert info.value.code == code


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_either_parses_in_range_or_raises_reply_error(text: str) -> None:
    try:
        parsed = parse_reply(text)
    except ReplyError:
        return
    assert 0 <= parsed.probability_yes <= 1 and 0 <= parsed.confidence <= 1


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["probability_yes", "confidence", "decision", "rationale", "x"]),
        st.none()
        | st.booleans()
        | st.integers(-5, 5)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=10)
        | st.sampled_from([d.value for d in Decision]),
    ),
    st.integers(0, 60),
)
def test_json_shaped_garbage_and_truncations_never_parse_out_of_range(
    obj: dict[str, object], cut: int
) -> None:
    text = json.dumps(obj)
    for candidate in (text, text[: max(len(text) - cut, 0)]):
        try:
            parsed = parse_reply(candidate)
        except ReplyError:
            continue
        assert 0 <= parsed.probability_yes <= 1
        assert 0 <= parsed.confidence <= 1
        assert parsed.decision in set(Decision)
