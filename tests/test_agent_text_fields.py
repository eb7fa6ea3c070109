"""The agents' output text fields: one stripped type, one non-blank type, used by every model."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from assay.agents.decompose_attributes import AttributeSet, Triplet
from assay.agents.decompose_claims import Sentence
from assay.agents.rewriter import Rewrite
from assay.agents.synth_ops import EvolvedInstruction, RequestPlan, WrittenResponse
from assay.agents.synth_reflect import ImprovedInstruction, Relevance
from assay.agents.text_fields import NonBlankStr, StrippedStr

TRIPLET = {"topic": "sql", "relation": "uses", "attribute": "joins"}
# Each model with a valid answer and the name of one of its non-blank text fields.
NON_BLANK = [
    (Triplet, TRIPLET, "attribute"),
    (AttributeSet, {"topic": "sql", "triplets": [TRIPLET], "proposed": []}, "topic"),
    (Sentence, {"text": "It is.", "kind": "fact"}, "text"),
    (Rewrite, {"response": "Fixed.", "changes": []}, "response"),
    (RequestPlan, {"topic": "sql", "attributes": ["joins"], "example_instruction": "Join two tables."},
     "example_instruction"),
    (EvolvedInstruction, {"instruction": "Do it."}, "instruction"),
    (ImprovedInstruction, {"instruction": "Do it."}, "instruction"),
    (WrittenResponse, {"response": "Done."}, "response"),
]


@pytest.mark.parametrize(("model", "answer", "field"), NON_BLANK, ids=lambda v: getattr(v, "__name__", ""))
def test_required_texts_are_stripped_and_never_blank(model: type[BaseModel], answer: dict, field: str) -> None:
    padded = model.model_validate({**answer, field: "\n  Some text. \t"})
    assert getattr(padded, field) == "Some text."
    for blank in ("", "  \n\t "):
        with pytest.raises(ValidationError, match=field):
            model.model_validate({**answer, field: blank})
    with pytest.raises(ValidationError):
        model.model_validate({**answer, field: 3})  # not text: still rejected, not coerced


def test_a_free_text_is_stripped_and_may_be_blank() -> None:
    assert Relevance.model_validate({"reason": "  same task \n", "score": 9}).reason == "same task"
    assert Relevance.model_validate({"reason": "   ", "score": 9}).reason == ""


def test_the_types_alone() -> None:
    class Answer(BaseModel):
        required: NonBlankStr
        optional: StrippedStr = ""

    assert Answer.model_validate_json('{"required": " x ", "optional": " "}') == Answer(required="x", optional="")
    with pytest.raises(ValidationError, match="at least 1 character"):
        Answer.model_validate_json('{"required": "  "}')
    assert Answer.model_json_schema()["properties"]["required"] == {"minLength": 1, "title": "Required", "type": "string"}
