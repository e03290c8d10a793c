"""The ticket the layout tests print, and where tests put their PNG artifacts."""

from __future__ import annotations

import os
from pathlib import Path

from simulator.bench_kiosk import SAMPLE_TICKET

# The benchmark's ticket: the snapshots pin its bytes.
SAMPLE = SAMPLE_TICKET

# Every line the citizen must be able to read, in printing order.
SAMPLE_LINES = [
    "示范政务服务中心",
    "A001",
    "【老年人优先】",
    "社保业务",
    "您前面还有 12 人",
    "预计等候约 25 分钟",
    "取号时间 2026-11-22 09:31",
    "请备齐材料：",
    "- 身份证原件",
    "- 社保卡",
    "叫号3次未到视为过号，请重新取号",
    "咨询电话：12345",
    "扫码查看进度、评价服务",
]


def artifacts_dir() -> Path:
    """Where tests save screenshots and decoded tickets (``PAIDUI_ARTIFACTS`` or build/)."""
    root = Path(os.environ.get("PAIDUI_ARTIFACTS", Path(__file__).parents[2] / "build/artifacts"))
    root.mkdir(parents=True, exist_ok=True)
    return root
