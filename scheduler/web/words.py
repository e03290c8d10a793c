"""The words the dashboard uses for clerks' keys and what came of them (Chinese, as a hall
manager reads them; the bus carries codes)."""

from __future__ import annotations

KEY_VERBS = {
    "call_next": "叫号",
    "call_ticket": "特呼",
    "recall": "重呼",
    "start": "开始办理",
    "finish": "办结",
    "no_show": "弃号",
    "postpone": "挂起",
    "pause": "暂停服务",
    "resume": "恢复服务",
    "pause_toggle": "暂停/恢复",
    "transfer_window": "转窗口",
    "transfer_service": "转业务",
    "login": "登录",
    "logout": "退出",
    "desk_contact": "记录当面沟通",
    "noise": "无效按键",
    "card": "刷卡登录",
}
OUTCOME_WORDS = {
    "ok": "",
    "nothing_waiting": "无人等候",
    "window_paused": "暂停中",
    "window_closed": "未登录",
    "no_current_ticket": "当前无号",
    "unknown_clerk": "工号无效",
    "unknown_ticket": "无此票号",
    "pin_required": "需输入密码",
    "wrong_pin": "密码错误",
    "clerk_locked": "已锁定",
    "invalid_state": "当前不可操作",
    "timeout": "系统无响应",
    "ignored": "已忽略",
    "repeated": "重复按键",
}


def key_words(key: str, outcome: str) -> str:
    """A key and its outcome as words: 叫号：无人等候, or 办结 when it went through."""
    if key.startswith("button_") and key[7:].isdigit():
        verb = f"评价器第{key[7:]}键"  # a pad's five buttons
    else:
        verb = KEY_VERBS.get(key, key)
    said = OUTCOME_WORDS.get(outcome, outcome)
    return f"{verb}：{said}" if said else verb
