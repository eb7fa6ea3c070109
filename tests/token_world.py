"""A tiny world for token-cleaning tests: a byte-level fast tokenizer with ChatML, a random-init
Llama model, both saved to a folder a CLI can load, and a scorer fed fixed losses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nBe helpful.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def byte_tokenizer(chat: bool = True) -> Any:
    """A real fast tokenizer: one token per byte, ChatML specials, a chat template when `chat`."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    core = Tokenizer(models.BPE(vocab={ch: i for i, ch in enumerate(sorted(alphabet))}, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    from tokenizers import decoders

    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        pad_token="<|im_end|>")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_model(seed: int = 0, layers: int = 2) -> Any:
    """A random-init Llama over the byte tokenizer's ids."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024)
    return LlamaForCausalLM(config).eval()


def save_tiny(folder: Path, seed: int = 0) -> Path:
    """The tiny model and tokenizer saved as a Hugging Face folder (what --reference takes)."""
    tiny_model(seed).save_pretrained(folder)
    byte_tokenizer().save_pretrained(folder)
    return folder


def _module_base() -> Any:
    import torch

    class FixedLM(torch.nn.Module):
        """A causal LM whose next-token logits come from a rule, so a test knows every token's loss."""

        def __init__(self) -> None:
            super().__init__()
            self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the model a device

        def rule(self, input_ids: Any) -> Any:
            raise NotImplementedError

        def forward(self, input_ids: Any, attention_mask: Any = None, logits_to_keep: int = 0) -> Any:
            from types import SimpleNamespace

            logits = self.rule(input_ids) + self.anchor
            return SimpleNamespace(logits=logits[:, -logits_to_keep:] if logits_to_keep else logits)

    return FixedLM


def unigram_lm(costs: dict[int, float], default: float = 1.0, vocab: int = 300) -> Any:
    """Every position predicts the same distribution: token v's logit is -costs.get(v, default), so its
    loss is that cost plus one constant, whatever the context."""
    import torch

    table = torch.full((vocab,), -default)
    for v, c in costs.items():
        table[v] = -c

    class Unigram(_module_base()):
        def rule(self, input_ids: Any) -> Any:
            return table.expand(*input_ids.shape, vocab).clone()

    return Unigram().eval()


def copy_lm(bonus: float = 6.0, vocab: int = 300) -> Any:
    """A token already seen in the input (prompt or earlier answer) is `bonus` nats more likely: the
    instruction lowers the loss of the answer tokens it contains, and of nothing else."""
    import torch

    class Copy(_module_base()):
        def rule(self, input_ids: Any) -> Any:
            seen = torch.nn.functional.one_hot(input_ids, vocab).cummax(dim=1).values
            return seen.float() * bonus

    return Copy().eval()
