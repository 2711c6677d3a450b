"""The serving generation loop on CUDA. Imports only torch, transformers and tokenizers (no NeMo, no Curator), so
the GPU check runs it on the device's stock image; the tiny model and its byte-level tokenizer are made here."""

import threading

import pytest
import torch

from canto_nemo.serving.generation import Engine, Sampling

TEXTS = ["香港嘅天氣好熱，我哋去海灘游水啦。", "今日食咗叉燒飯，好好味。", "你聽日得唔得閒？我哋飲茶。"] * 20


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny_cuda")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(TEXTS, trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                                 num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                 eos_token_id=tokenizer.eos_token_id)).save_pretrained(folder)
    return folder


@pytest.mark.gpu
def test_generation_on_cuda_gives_whole_characters(tiny_folder):
    engine = Engine(str(tiny_folder), "cuda")
    assert engine.device.type == "cuda"
    steps = list(engine.generate(engine.encode("香港"), Sampling(max_tokens=40, temperature=0, ignore_eos=True),
                                 threading.Event()))
    assert len(steps) == 40 and steps[-1].finish_reason == "length"
    assert all("\ufffd" not in step.text for step in steps)
    again = list(engine.generate(engine.encode("香港"), Sampling(max_tokens=40, temperature=0, ignore_eos=True),
                                 threading.Event()))
    assert [s.token for s in again] == [s.token for s in steps]  # greedy is deterministic on the GPU too
