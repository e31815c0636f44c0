"""The shipped unit file: accepted by systemd-analyze, and says what the README promises."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "feedd.service"


def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing: .ci/run must install the systemd package")
        pytest.skip("systemd-analyze is not installed")
    # verify checks that ExecStart exists: point it at this environment's feedd.
    feedd = Path(sys.executable).with_name("feedd")
    unit = tmp_path / "feedd.service"
    unit.write_text(UNIT.read_text().replace("/opt/feedd/bin/feedd", str(feedd)))
    result = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "feedd.service" not in result.stderr, result.stderr  # no warnings about our unit either


def test_the_unit_is_notify_reloadable_and_hardened():
    text = UNIT.read_text()
    for line in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "WatchdogSec=",
                 "StateDirectory=feedd", "ReadWritePaths=", "ProtectSystem=strict", "ProtectHome=yes",
                 "PrivateTmp=yes", "NoNewPrivileges=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                 "SystemCallFilter=@system-service", "User=feedd"):
        assert line in text, line
