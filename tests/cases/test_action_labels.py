"""Every action code the code base writes to a trail has a readable, translated name on the
case page (cases.labels.ACTIONS). The codes are found in the source: the action argument of
every `trail.append(…)` (or `append` imported from cases.trail) and every `reroute(action=…)`,
so that a new one without a label fails here rather than showing "mediation.signed" to a
reader."""

import ast

from django.conf import settings
from django.utils import translation

from cases.labels import ACTIONS, action_label

SKIPPED_DIRS = {".venv", ".git", "var", "tests", "docs", "node_modules", "migrations"}


def _sources():
    for path in sorted(settings.BASE_DIR.rglob("*.py")):
        parts = path.relative_to(settings.BASE_DIR).parts
        if not SKIPPED_DIRS.intersection(parts):
            yield path


def _imports_trail_append(tree):
    """Whether the module has `from cases.trail import append` (or `from .trail import …`)."""
    return any(
        isinstance(node, ast.ImportFrom)
        and (node.module or "").split(".")[-1] == "trail"
        and any(alias.name == "append" for alias in node.names)
        for node in ast.walk(tree)
    )


def _action_argument(call, *, bare_append):
    """The node giving the action of a trail write, or None when `call` is not one."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    keyword = next((k.value for k in call.keywords if k.arg == "action"), None)
    if name == "reroute":
        return keyword
    appends = (
        isinstance(func, ast.Attribute)
        and name == "append"
        and isinstance(func.value, ast.Name)
        and func.value.id == "trail"
    ) or (bare_append and isinstance(func, ast.Name) and name == "append")
    if not appends:
        return None
    return call.args[1] if len(call.args) > 1 else keyword


def _expand(prefix):
    """Codes an f-string "<prefix>{…}" can produce."""
    from viewflow.workflow.status import STATUS

    from cases.models import FINAL_STATUSES

    if prefix == "task.":  # cases.signals: "task." + viewflow's status, in lower case
        return {f"task.{str(s).lower()}" for s in STATUS}
    if prefix == "case.":  # cases.services.finish_case: "case." + the final status
        return {f"case.{s}" for s in FINAL_STATUSES}
    return None


def _codes(node):
    """The codes an action expression can give, or None when the source does not tell."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):  # "a" if … else "b"
        either, other = _codes(node.body), _codes(node.orelse)
        return None if either is None or other is None else either | other
    if (
        isinstance(node, ast.JoinedStr)
        and len(node.values) == 2
        and isinstance(node.values[0], ast.Constant)
    ):
        return _expand(node.values[0].value)
    return None


def emitted_actions():
    """{action code: "path:line" where it is written}, and the writes whose action could not be
    told from the source (to be taught to this function)."""
    found, unknown = {}, []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        bare_append = _imports_trail_append(tree)
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            action = _action_argument(node, bare_append=bare_append)
            if action is None:
                continue
            where = f"{path.relative_to(settings.BASE_DIR)}:{node.lineno}"
            codes = _codes(action)
            if codes is not None:
                for code in codes:
                    found.setdefault(code, where)
            elif isinstance(action, ast.Name) and any(
                f.name == "reroute"
                and f.lineno <= node.lineno <= f.end_lineno
                and action.id in [a.arg for a in f.args.kwonlyargs + f.args.args]
                for f in functions
            ):
                continue  # reroute passes its caller's action on: the callers are read above
            else:
                unknown.append(where)
    return found, unknown


def test_the_source_scan_finds_the_trail_writes():
    found, unknown = emitted_actions()
    assert unknown == [], "teach emitted_actions how these writes name their action"
    # Written in several ways: a literal, the engine's "task.{status}", the finish's
    # "case.{status}", and a reroute's action keyword.
    assert {
        "case.submitted",
        "mediation.signed",
        "task.started",
        "task.new",
        "case.withdrawn",
        "hardship.objection",
        "mediation.recusal_granted",
    } <= set(found)
    assert len(found) > 40


def test_every_action_written_to_a_trail_has_a_label():
    found, _unknown = emitted_actions()
    missing = {code: where for code, where in found.items() if code not in ACTIONS}
    assert missing == {}, "add these to cases.labels.ACTIONS (and translate them)"


def test_every_label_reads_in_chinese():
    found, _unknown = emitted_actions()
    with translation.override("zh-hans"):
        english = {
            code: str(action_label(code))
            for code in found
            if not any("\u4e00" <= ch <= "\u9fff" for ch in str(action_label(code)))
        }
    assert english == {}, "translate these in locale/zh_Hans (make messages)"


def test_the_submitted_event_is_not_the_submitted_field():
    """ "Submitted" is both a field (when the case was submitted: 提交时间) and an event (the
    application was submitted: 提交申请); the event's label has a context of its own."""
    with translation.override("zh-hans"):
        assert str(action_label("case.submitted")) == "提交申请"
        assert translation.gettext("Submitted") == "提交时间"
