"""Training ids and labels of a conversation from its masked character spans, under any tokenizer.

The conversation is rendered with the tokenizer's chat template (without one: "### Instruction:" /
"### Response:" blocks, each response ended by EOS), tokenized once with character offsets, and
each token labelled:
- -100 (no loss) for the prompt: the template, system and user turns;
- -100 for a response token all of whose characters lie in the turn's masked spans;
- its id otherwise, and for the special token that ends a response turn (<|im_end|>, EOS), so
  the model still learns to stop.
A token that straddles the border of a response (rare with chat templates) counts as prompt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from assay.tools.token_scores import encode_with_offsets

IGNORE = -100
_MARK = "ASSAYMSG{}x7f3a"  # word characters only, so templates that trim or escape content keep it
_HEADERS = {"system": "### System:\n", "user": "### Instruction:\n", "assistant": "### Response:\n"}


def render(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> tuple[str, dict[int, int]]:
    """The conversation's text under the tokenizer's template, and where each message's content
    starts in it (by message index; a message the template drops is absent)."""
    if getattr(tokenizer, "chat_template", None):
        marked = [{"role": m["role"], "content": _MARK.format(i)} for i, m in enumerate(messages)]
        text = tokenizer.apply_chat_template(marked, tokenize=False)
    else:
        bos = tokenizer.bos_token or "" if _adds_bos(tokenizer) else ""
        text = bos + "".join(_HEADERS.get(m["role"], f"### {m['role']}:\n") + _MARK.format(i)
                             + ((tokenizer.eos_token or "") if m["role"] == "assistant" else "") + "\n\n"
                             for i, m in enumerate(messages))
    pieces, starts, position, i_text = [], {}, 0, 0
    # Splice each content in where its marker is, in text order, noting where it lands.
    found = sorted((text.find(_MARK.format(i)), i) for i in range(len(messages)))
    for at, i in found:
        if at < 0:
            continue
        pieces.append(text[i_text:at])
        position += at - i_text
        starts[i] = position
        pieces.append(messages[i]["content"])
        position += len(messages[i]["content"])
        i_text = at + len(_MARK.format(i))
    pieces.append(text[i_text:])
    return "".join(pieces), starts


def _adds_bos(tokenizer: Any) -> bool:
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    return tokenizer("a", add_special_tokens=True)["input_ids"][:1] != plain[:1]


def labelled_ids(tokenizer: Any, messages: Sequence[Mapping[str, str]],
                 masked_spans: Mapping[int, Sequence[tuple[int, int]]]) -> tuple[list[int], list[int]]:
    """(input_ids, labels) of the conversation; `masked_spans[turn]` are the [start, end) character
    spans of that assistant turn's content left out of the loss."""
    text, starts = render(tokenizer, messages)
    ids, t_starts, t_ends = encode_with_offsets(tokenizer, text)
    ids_array = np.asarray(ids, dtype=np.int64)
    labels = np.full(len(ids), IGNORE, dtype=np.int64)
    specials = np.isin(ids_array, list(tokenizer.all_special_ids))
    for turn, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        if turn not in starts:
            raise ValueError(f"the tokenizer's chat template drops assistant turn {turn}: no labels for it")
        begin, end = starts[turn], starts[turn] + len(message["content"])
        inside = (t_starts >= begin) & (t_ends <= end) & (t_ends > t_starts)
        covered = np.zeros(end - begin + 1, dtype=np.int64)  # chars masked so far, cumulated below
        for s, e in masked_spans.get(turn, ()):
            s, e = min(max(s, 0), end - begin), min(max(e, 0), end - begin)
            if e > s:
                covered[s] += 1
                covered[e] -= 1
        masked_char = np.concatenate([[0], np.cumsum(np.cumsum(covered)[:-1] > 0)])
        rel_s, rel_e = np.clip(t_starts - begin, 0, end - begin), np.clip(t_ends - begin, 0, end - begin)
        fully_masked = (masked_char[rel_e] - masked_char[rel_s]) == (rel_e - rel_s)
        keep = inside & ~fully_masked
        labels[keep] = ids_array[keep]
        after = np.flatnonzero((t_starts >= end) & ~inside)
        if len(after) and specials[after[0]] and not inside[after[0]]:  # the turn's end token: learn to stop
            labels[after[0]] = ids_array[after[0]]
    return ids, labels.tolist()
