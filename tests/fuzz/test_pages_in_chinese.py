"""Every page, as every demo role, reads in Chinese: no English words in its text (what the
browser shows, and the placeholder, title, aria-label and alt attributes), beyond file formats
and the language switch's own "English". A message marked for translation under a name
makemessages does not extract, or a template string without `{% translate %}`, would show
here (the upload form's "What is it?" did)."""

import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from tests.fuzz import ROLES
from tests.fuzz.test_page_fuzz import _ids, _page_patterns

# Names of formats, and the language switch's "English".
ALLOWED = {"CSV", "PDF", "JPEG", "PNG", "Excel", "YYYY-MM", "English"}
WORDS = re.compile(r"[A-Za-z]{3,}(?:[ ,.'’:-]+[A-Za-z]{2,})*")
TOKENS = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*")
HEX = re.compile(r"[a-f]+")  # pieces of the trail's hashes
SHOWN_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")
HIDDEN_ELEMENTS = ("script", "style", "code", "pre")


class _ShownText(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self.hidden = [], 0

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in HIDDEN_ELEMENTS
        self.parts += [v for k, v in attrs if k in SHOWN_ATTRIBUTES and v]

    def handle_endtag(self, tag):
        self.hidden -= tag in HIDDEN_ELEMENTS

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def english_in(html):
    parser = _ShownText()
    parser.feed(html)
    return {
        words
        for part in parser.parts
        for words in WORDS.findall(part)
        if not all(w in ALLOWED or HEX.fullmatch(w) for w in TOKENS.findall(words))
    }


def test_the_check_sees_english_in_text_and_attributes():
    page = '<p title="Upload it">材料类型</p><script>var a = "ignored";</script>'
    assert english_in(page) == {"Upload it"}
    assert english_in("<p>PDF, JPEG, PNG，不超过 10 MB</p><p>a3f9e</p>") == set()
    assert english_in("<p>PDF, or an image</p>") == {"PDF, or an image"}


def _one_of_each_process():
    """A case and a task of each process (the first two cases were both hardship's, and the
    remittance case page went unread)."""
    from approvals.models import CaseTask
    from cases.models import Case

    cases, tasks = {}, {}
    for pk, process in Case.objects.order_by("pk").values_list("pk", "process"):
        cases.setdefault(process, pk)
    for pk, process in (
        CaseTask.objects.filter(flow_task_type="HUMAN")
        .order_by("pk")
        .values_list("pk", "case__process")
    ):
        tasks.setdefault(process, pk)
    return {"tasks/": list(tasks.values()), "": list(cases.values())}


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
def test_every_page_reads_in_chinese(role, demo, fuzz_data):
    from organizations.models import User

    client = Client()
    if role:
        client.force_login(User.objects.get(username=role))
    ids = {**_ids(), **_one_of_each_process()}
    found = {}
    for pattern in _page_patterns():
        pool = next(v for k, v in ids.items() if pattern.startswith(k))
        for pk in pool[:3]:
            url = "/" + re.sub(r"<(?:\w+:)?\w+>", str(pk), pattern)
            response = client.get(url)
            if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
                for words in english_in(response.content.decode()):
                    found.setdefault(words, url)
    assert found == {}


def test_every_node_of_every_process_has_a_title_of_its_own():
    """viewflow titles a node without one from its name ("Exit needed"), in English, on the
    process diagram and in the trail."""
    from workflows.base import flow_for

    untitled = [
        f"{process}.{node.name}"
        for process in ("hardship", "mediation", "remittance")
        for node in flow_for(process).instance.nodes()
        if str(node.task_title) == node.name.replace("_", " ").title()
    ]
    assert untitled == []
