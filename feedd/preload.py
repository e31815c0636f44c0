"""Imported once by the forkserver, before it forks any worker (:data:`feedd.workers.PRELOAD`), for
what it loads: the language model, the lemmatiser and the page templates. Every worker forked after
starts with them (shared, copy-on-write) instead of loading them again for each batch (~0.2 s of a
burst's start).
"""

import logging

try:
    from . import language, lemmas, render

    language.warm_up()
    lemmas.warm_up()
    render.warm_up()
except Exception as exc:  # noqa: BLE001 (each worker then loads what it needs itself, as it would without)
    logging.getLogger(__name__).warning("forkserver preload: %s", exc)
