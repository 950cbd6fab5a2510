"""The API speaks Simplified Chinese by default and English on request, and the shipped
catalog (locale/zh_Hans) translates every message the code marks for translation."""

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone, translation

CATALOG = settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def _restore_language():
    """A request with Accept-Language activates that language for the thread; put back what
    was active so later tests are not run in English."""
    before = translation.get_language()
    yield
    translation.activate(before) if before else translation.deactivate()


def _delegation(delegate, days=1):
    now = timezone.now()
    return {
        "delegate": delegate,
        "starts_at": (now + timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=days)).isoformat(),
        "reason": "出差",
    }


# --- what a user sees --------------------------------------------------------------------


def test_error_is_chinese_by_default(demo, api):
    response = api(demo.worker1).post("/api/v1/tasks/999999/claim/")
    assert response.status_code == 404
    assert response.json() == {"detail": "未找到该任务。", "code": "not_found"}


def test_error_is_english_on_request(demo, api):
    response = api(demo.worker1).post("/api/v1/tasks/999999/claim/", **EN)
    assert response.status_code == 404
    assert response.json() == {"detail": "Task not found.", "code": "not_found"}


def test_forbidden_follows_accept_language(demo, api):
    client = api(demo.worker1)  # a member, not an officer
    zh = client.post("/api/v1/delegations/", _delegation("worker2"), format="json")
    en = client.post("/api/v1/delegations/", _delegation("worker2"), format="json", **EN)
    assert zh.status_code == en.status_code == 403
    assert zh.json()["detail"] == "只有工会干部才能设置任务代理。"
    assert en.json()["detail"] == "Only officers can delegate their tasks."


def test_field_messages_are_translated_too(demo, api):
    client = api(demo.chair1)
    zh = client.post("/api/v1/delegations/", _delegation("nobody"), format="json").json()
    assert zh["code"] == "invalid"
    assert zh["detail"] == "无法登记该代理。"
    assert zh["fields"] == {"delegate": ["没有该用户名对应的有效用户。"]}

    en = client.post("/api/v1/delegations/", _delegation("nobody"), format="json", **EN).json()
    assert en["detail"] == "The delegation cannot be recorded."
    assert en["fields"] == {"delegate": ["No active user with this name."]}


def test_bad_input_summary_is_translated(demo, api):
    client = api(demo.chair1)
    zh = client.post("/api/v1/delegations/", {}, format="json")
    assert zh.status_code == 400
    assert zh.json()["detail"] == "输入无效：delegate, ends_at, starts_at。"
    en = client.post("/api/v1/delegations/", {}, format="json", **EN)
    assert en.json()["detail"] == "Invalid input: delegate, ends_at, starts_at."


def test_role_labels_follow_accept_language(demo, api):
    def labels(**headers):
        me = api(demo.chair1).get("/api/v1/me/", **headers).json()
        return {m["role"]: m["role_label"] for m in me["memberships"]}

    assert labels() == {"chair": "基层工会主席", "member": "会员"}
    assert labels(**EN) == {"chair": "Chair", "member": "Member"}


def test_outside_a_request_the_default_is_chinese(db):
    from cases.models import CaseStatus
    from organizations.models import Role

    with translation.override(settings.LANGUAGE_CODE):
        assert str(Role.AID_OFFICER.label) == "帮扶干事"
        assert str(CaseStatus.WITHDRAWN.label) == "已撤回"


# --- the catalog --------------------------------------------------------------------------


def _po_entries(path):
    """A tiny .po reader for what makemessages writes (entries separated by blank lines):
    {(msgctxt or None, msgid): {"plural": msgid_plural or None, "msgstr": [msgstr, …],
    "fuzzy": bool}}."""
    entries = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry, key = (
            {"msgid": "", "msgctxt": None, "plural": None, "msgstr": [], "fuzzy": False},
            None,
        )
        for line in block.strip().splitlines():
            if line.startswith("#,"):
                entry["fuzzy"] = "fuzzy" in line
            elif line.startswith("#"):
                continue  # comments, and obsolete (#~) entries
            elif line.startswith('"'):
                if key == "msgstr":
                    entry["msgstr"][-1] += ast.literal_eval(line)
                else:
                    entry[key] += ast.literal_eval(line)
            else:
                keyword, value = line.split(" ", 1)
                key = "plural" if keyword == "msgid_plural" else keyword.split("[")[0]
                if key == "msgstr":
                    entry["msgstr"].append(ast.literal_eval(value))
                else:
                    entry[key] = ast.literal_eval(value)
        if entry["msgid"]:  # not the header
            entries[(entry.pop("msgctxt"), entry.pop("msgid"))] = entry
    return entries


PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def test_every_message_is_translated():
    entries = _po_entries(CATALOG / "django.po")
    assert len(entries) > 100  # the reader found the catalog, not an empty file
    untranslated = sorted(key for key, e in entries.items() if not all(e["msgstr"]))
    assert untranslated == [], "run make messages and translate these in locale/zh_Hans"
    assert sorted(key for key, e in entries.items() if e["fuzzy"]) == []
    for (_context, msgid), e in entries.items():
        # Chinese has one plural form, used for every n: it takes the plural's placeholders.
        source = e["plural"] or msgid
        for msgstr in e["msgstr"]:
            assert sorted(PLACEHOLDER.findall(msgstr)) == sorted(PLACEHOLDER.findall(source)), msgid


def test_the_catalog_holds_every_message_the_code_marks(tmp_path):
    """`make messages` has been run: extracting the messages afresh, from a copy of the
    source, changes no entry of the catalog (the trail's head model and two token errors were
    once missing from it, and so untranslated). Needs GNU gettext: skipped without it, unless
    CI (UNIONFLOW_REQUIRE_GETTEXT) demands it."""
    if not (shutil.which("xgettext") and shutil.which("msgmerge")):
        if os.environ.get("UNIONFLOW_REQUIRE_GETTEXT"):
            pytest.fail("UNIONFLOW_REQUIRE_GETTEXT is set but GNU gettext is not installed")
        pytest.skip("GNU gettext is not installed")
    copy = tmp_path / "src"
    shutil.copytree(
        settings.BASE_DIR,
        copy,
        ignore=shutil.ignore_patterns(".venv", ".git", "var", "node_modules", "__pycache__"),
    )
    # The arguments of `make messages` (Makefile).
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--ignore=.venv"]
        + ["--ignore=tests", "--ignore=var", "--ignore=docs", "--no-location", "--no-obsolete"],
        cwd=copy,
        check=True,
        capture_output=True,
    )
    fresh = _po_entries(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")
    shipped = _po_entries(CATALOG / "django.po")
    assert sorted(set(fresh) - set(shipped)) == [], "run make messages and translate them"
    assert fresh == shipped


def test_compiled_catalog_matches_the_po():
    """django.mo is committed: it must be compiled from the current django.po."""
    with open(CATALOG / "django.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for (context, msgid), e in _po_entries(CATALOG / "django.po").items():
        if context is not None:
            assert compiled.pgettext(context, msgid) == e["msgstr"][0], (context, msgid)
        elif e["plural"] is None:
            assert compiled.gettext(msgid) == e["msgstr"][0], msgid
        else:
            for n, msgstr in enumerate(e["msgstr"]):  # Chinese has one form, for every n
                assert compiled.ngettext(msgid, e["plural"], n + 1) == msgstr, msgid


# The names xgettext looks for in Python (Django's makemessages keywords).
EXTRACTED_NAMES = {
    "_",
    "gettext",
    "gettext_lazy",
    "gettext_noop",
    "ngettext",
    "ngettext_lazy",
    "pgettext",
    "pgettext_lazy",
    "npgettext",
    "npgettext_lazy",
}


def test_messages_are_marked_under_names_makemessages_extracts():
    """A message marked with `gettext_lazy` imported as another name (`_lazy`) is never
    extracted: it stays English on a Chinese page (the upload form's "What is it?" did)."""
    wrong = []
    for path in settings.BASE_DIR.rglob("*.py"):
        parts = path.relative_to(settings.BASE_DIR).parts
        if parts[0] in (".venv", "var", "tests", "docs") or "migrations" in parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation":
                for alias in node.names:
                    if alias.name in EXTRACTED_NAMES and (alias.asname or alias.name) not in (
                        EXTRACTED_NAMES
                    ):
                        wrong.append(f"{path.relative_to(settings.BASE_DIR)}: {alias.asname}")
    assert wrong == []
