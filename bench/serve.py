"""Serving throughput, side by side: ``python bench/serve.py [--seconds 10] [--runs 3]``.

Builds a small project (``all.atom`` of about 20 KB), then runs ``wrk -t1
-c64`` against each server on loopback, one after the other, for full 200
responses of ``/all.atom`` and for 304 revalidations (``If-None-Match``):

- ``feedd``: the bundled server (aiohttp's low-level server, feedd/serve.py),
  as ``feedd run`` starts it;
- ``uvicorn``: the same request handling (path resolution, FileCache,
  validators) behind uvicorn + httptools as a raw ASGI app, the other
  candidate considered for the bundled server (installed with
  ``pip install uvicorn httptools`` if missing);
- ``nginx``: Debian's nginx with a minimal config written here;
- ``http.server``: Python's standard library, for reference.

Needs ``wrk`` and ``nginx`` (``apt-get install wrk nginx-light``). Prints
requests/s, p99 latency and errors per server (median of the runs), and each
server's requests/s as a share of nginx's.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import generate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

ASGI_APP = '''
import sys
from feedd.serve import FileCache, resolve, accepts_gzip
from email.utils import format_datetime

ROOT = sys.argv[1]
cache = FileCache()

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = resolve(ROOT, scope["path"])
    cached = cache.get(path) if path else None
    if cached is None:
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = dict(scope["headers"])
    common = [(b"etag", cached.etag.encode()), (b"last-modified", format_datetime(cached.last_modified, usegmt=True).encode()),
              (b"cache-control", b"public, max-age=60"), (b"vary", b"Accept-Encoding")]
    if headers.get(b"if-none-match", b"").decode() == cached.etag:
        await send({"type": "http.response.start", "status": 304, "headers": common})
        await send({"type": "http.response.body", "body": b""})
        return
    body = cached.body
    extra = [(b"content-type", cached.content_type.encode())]
    if cached.gzipped and accepts_gzip(headers.get(b"accept-encoding", b"").decode()):
        body = cached.gzipped
        extra.append((b"content-encoding", b"gzip"))
    await send({"type": "http.response.start", "status": 200,
                "headers": common + extra + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

if __name__ == "__main__":
    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False,
                http="httptools", loop="uvloop" if "--uvloop" in sys.argv else "asyncio")
'''

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    include /etc/nginx/mime.types;
    types {{ application/atom+xml atom; application/rss+xml rss; }}
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
    uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    sendfile on; tcp_nopush on;
    etag on;
    server {{
        listen 127.0.0.1:{port};
        root {feeds};
        location / {{ add_header Cache-Control "public, max-age=60"; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def etag_of(port: int) -> str:
    out = subprocess.run(["curl", "-sI", f"http://127.0.0.1:{port}/all.atom"], capture_output=True, text=True).stdout
    match = re.search(r"(?im)^etag:\s*(\S+)", out)
    return match.group(1) if match else '"none"'


def wrk(port: int, seconds: int, header: str | None) -> tuple[float, float, int]:
    """requests/s, p99 ms, errors (non-2xx/3xx and socket errors)."""
    cmd = ["wrk", "-t1", "-c64", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}/all.atom"]
    if header:
        cmd[1:1] = ["-H", header]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p99_ms, errors + (int(non2xx.group(1)) if non2xx else 0)


def servers(root: Path, tmp: Path):
    feeds = root / "feeds"
    asgi = tmp / "asgi_app.py"
    asgi.write_text(ASGI_APP)
    conf = tmp / "nginx.conf"
    return {
        "feedd": lambda port: [sys.executable, "-m", "feedd", "run", "--root", str(root), "--port", str(port)],
        "uvicorn": lambda port: [sys.executable, str(asgi), str(feeds), str(port)],
        "nginx": lambda port: (conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, feeds=feeds)),
                               ["nginx", "-c", str(conf)])[1],
        "http.server": lambda port: [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                     "--directory", str(feeds)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="servers to run (default: all)")
    args = parser.parse_args()
    for tool in ("wrk", "nginx", "curl"):
        if not shutil.which(tool):
            sys.exit(f"needs {tool}: apt-get install wrk nginx-light curl")
    try:
        import uvicorn  # noqa: F401  (only: is it installed?)
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "uvicorn", "httptools"], check=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)  # nginx's workers run as another user
        root = tmp / "site"
        generate(10, root / "seeds")
        (root / "feedd.toml").write_text('[site]\ntitle = "bench"\n[topics.ukraine]\nkeywords = ["Ukraine"]\n')
        subprocess.run([sys.executable, "-m", "feedd", "build", "--root", str(root)], check=True,
                       stdout=subprocess.DEVNULL)
        size = (root / "feeds" / "all.atom").stat().st_size
        print(f"wrk -t1 -c64 -d{args.seconds}s on /all.atom ({size / 1024:.1f} KB), median of {args.runs} runs, "
              f"{time.strftime('%Y-%m-%d')}")
        results: dict[str, dict[str, tuple[float, float, int]]] = {}
        for name, command in servers(root, tmp).items():
            if args.only and name not in args.only:
                continue
            port = free_port()
            proc = subprocess.Popen(command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_port(port)
                etag = etag_of(port)
                results[name] = {}
                for kind, header in (("200", None), ("304", f"If-None-Match: {etag}")):
                    runs = [wrk(port, args.seconds, header) for _ in range(args.runs)]
                    results[name][kind] = (statistics.median(r[0] for r in runs),
                                           statistics.median(r[1] for r in runs), sum(r[2] for r in runs))
            finally:
                proc.terminate()
                proc.wait(timeout=10)
        nginx = results.get("nginx")
        print("| server | 200 req/s | 200 p99 ms | 200 errors | 304 req/s | 304 p99 ms | 304 errors | share of nginx (200 / 304) |")
        print("|---|---|---|---|---|---|---|---|")
        for name, kinds in results.items():
            share = (f"{100 * kinds['200'][0] / nginx['200'][0]:.0f} % / {100 * kinds['304'][0] / nginx['304'][0]:.0f} %"
                     if nginx else "-")
            print(f"| {name} | " + " | ".join(f"{kinds[k][0]:,.0f} | {kinds[k][1]:.2f} | {kinds[k][2]}"
                                             for k in ("200", "304")) + f" | {share} |")


if __name__ == "__main__":
    main()
