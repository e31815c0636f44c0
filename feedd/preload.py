"""Imported once by the forkserver, before it forks any worker (:data:`feedd.workers.PRELOAD`):
the language model, the lemmatiser's dictionaries index and the page templates, loaded here are
in every worker forked after (shared, copy-on-write), instead of loaded again by each worker of
each batch (~0.2 s of a burst's start: bench/RESULTS.md).
"""

import logging

try:
    from . import language, lemmas, render

    language.warm_up()
    lemmas.warm_up()
    render.warm_up()
except Exception as exc:  # noqa: BLE001 (each worker then loads what it needs itself, as it would without)
    logging.getLogger(__name__).warning("forkserver preload: %s", exc)
