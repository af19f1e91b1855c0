#!/usr/bin/env python3
"""Adds a batch of labelled messages to the triage corpus, split by scenario family.

    scripts/split-triage-batch.py BATCH.jsonl NAME

Each line of BATCH.jsonl carries a `family` slug besides the corpus fields. Whole
families go to crates/deepwork-core/triage/heldout/NAME.jsonl in the order of their
slugs' CRC-32 until it holds a fifth of the lines, the rest to corpus/NAME.jsonl, as
triage/LABELS.md describes: translations of one situation never sit on both sides.
Lines whose text is already in either split are dropped, so nothing held out is
trained on twice. The slug is kept: the trainer folds by it.
"""

import json
import sys
import zlib
from collections import OrderedDict
from pathlib import Path

FIELDS = ("family", "source", "from", "channel", "text", "expected")
CLASSES = {"emergency", "blocker", "update", "strategic", "pre-ping"}
TRIAGE = Path(__file__).resolve().parent.parent / "crates/deepwork-core/triage"


def known_texts():
    texts = set()
    for split in ("corpus", "heldout"):
        for path in (TRIAGE / split).glob("*.jsonl"):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    texts.add(json.loads(line)["text"])
    return texts


def read_batch(path):
    families = OrderedDict()
    known = known_texts()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError as e:
            sys.exit(f"{path}:{number}: not JSON: {e}")
        missing = [f for f in FIELDS if f not in message]
        if missing:
            sys.exit(f"{path}:{number}: missing {', '.join(missing)}")
        if message["expected"] not in CLASSES:
            sys.exit(f"{path}:{number}: unknown class {message['expected']!r}")
        if message["text"] in known:
            continue
        known.add(message["text"])
        families.setdefault(message["family"], []).append({f: message[f] for f in FIELDS})
    return families


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    batch, name = Path(sys.argv[1]), sys.argv[2]
    for split in ("corpus", "heldout"):
        if (TRIAGE / split / f"{name}.jsonl").exists():
            sys.exit(f"{split}/{name}.jsonl exists already: pick a new name")
    families = read_batch(batch)
    total = sum(len(lines) for lines in families.values())
    held, trained = [], []
    for slug in sorted(families, key=lambda s: (zlib.crc32(s.encode()), s)):
        (held if len(held) < total / 5 else trained).extend(families[slug])
    for split, lines in (("corpus", trained), ("heldout", held)):
        with open(TRIAGE / split / f"{name}.jsonl", "w", encoding="utf-8") as out:
            for message in lines:
                out.write(json.dumps(message, ensure_ascii=False) + "\n")
    print(f"{name}: {len(trained)} to the corpus, {len(held)} held out, {len(families)} families")


if __name__ == "__main__":
    main()
