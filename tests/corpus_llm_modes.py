"""Play the natural corpus in LLM mode against the local OpenAI-compatible stub.

    uv run python -m tests.corpus_llm_modes scripted|lying dev|heldout|all OUT.json

``scripted`` answers every extraction with the offline rules' reading (a decent model);
``lying`` is asked about every message (``MODEL_READS_EVERY_MESSAGE``) and claims a
refund on each, cycling through 45, 500, 20, 0.000001 and
99 USDC. No network and no real model: the stub runs on 127.0.0.1. The eval's JSON
(figures and per-conversation results) is written to OUT.json and its exit code
returned, so the figures in evals/README.md can be reproduced.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from typing import Any

from tests.openai_stub import Messages, OpenAIStub, rules_extract

LIES = ("45", "500", "20", "0.000001", "99")


def lying_extract() -> Any:
    amounts = itertools.cycle(LIES)

    def extract(messages: Messages, schema: dict[str, Any]) -> dict[str, Any]:
        honest = rules_extract(messages, schema)
        return {**honest, "intent": "refund", "amount": next(amounts), "injection_signals": []}

    return extract


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("scripted", "lying"):
        sys.stderr.write(__doc__ or "")
        return 2
    model, half, out = argv
    extract = rules_extract if model == "scripted" else lying_extract()
    with OpenAIStub(extract=extract) as stub:
        env = {
            **os.environ,
            "OPENAI_API_KEY": "stub-key",
            "OPENAI_BASE_URL": stub.base_url,
            "LANGSMITH_TRACING": "false",
            # The worst case: the lying model is asked about every message, also those
            # the product would leave to the rules alone.
            "MODEL_READS_EVERY_MESSAGE": "true" if model == "lying" else "false",
        }
        with open(out, "w", encoding="utf-8") as sink:
            done = subprocess.run(
                [
                    "refund-agent",
                    "eval",
                    "--corpus",
                    "natural",
                    "--half",
                    half,
                    "-j",
                    "2",
                    "--json",
                ],
                env=env,
                stdout=sink,
                check=False,
            )
        sys.stderr.write(f"{stub.calls} model calls; figures in {out}\n")
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
