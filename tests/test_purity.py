"""The functional core stays pure: no database, watcher, scheduler or network in it."""

import subprocess
import sys

PURE = ["feedd.document", "feedd.language", "feedd.langmodel", "feedd.topics", "feedd.feeds", "feedd.render", "feedd.model",
        "feedd.config"]
IMPURE = ["sqlite3", "watchdog", "apscheduler", "aiohttp", "http.server", "socket", "feedd.index", "feedd.publish"]


def test_pure_modules_import_no_io_machinery():
    code = (
        "import sys\n"
        f"for name in {PURE!r}: __import__(name)\n"
        f"print(','.join(m for m in {IMPURE!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
