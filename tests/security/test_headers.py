"""Security headers and the content security policy: every page and API response carries
them, and no page holds inline script or style the policy would block (a crawl of what each
kind of user can reach). The API docs are the one exception, by nonce."""

import re
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
from django.core.management import call_command

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def directives(response):
    policy = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


def assert_strict_policy(response):
    for header, value in HEADERS.items():
        assert response[header] == value, header
    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]


class InlineCode(HTMLParser):
    """Collects what a strict policy would block: inline <script> and <style>, on* handler
    attributes, style attributes, javascript: URLs; and the page's same-site links."""

    def __init__(self):
        super().__init__()
        self.blocked = []
        self.links = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and not attrs.get("src") and attrs.get("type") != "application/json":
            self.blocked.append("inline <script>")
        if tag == "style":
            self.blocked.append("<style> element")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.blocked.append(f"{tag} {name}={value!r}")
            if name == "style":
                self.blocked.append(f"{tag} style={value!r}")
            if name in ("href", "src", "action") and (value or "").strip().startswith(
                "javascript:"
            ):
                self.blocked.append(f"{tag} {name}={value!r}")
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])


# GET links the crawl does not follow: they act (logout, language) or are files.
SKIP = re.compile(r"/accounts/logout|/i18n/|/download|/export|\.(pdf|xlsx|csv|png|svg)$")


def crawl(client, start="/", limit=40, per_kind=2):
    """Visit the pages reachable by links from `start`, at most `per_kind` of each kind
    (/cases/1/ and /cases/2/ are one kind); returns {url: (response, parser)}."""
    seen, queue, pages, kinds = set(), [start], {}, {}
    while queue and len(pages) < limit:
        url = urldefrag(queue.pop(0))[0]
        parts = urlsplit(url)
        if parts.netloc or not parts.path.startswith("/") or url in seen or SKIP.search(url):
            continue
        seen.add(url)
        kind = re.sub(r"\d+", "N", parts.path)
        if kinds.get(kind, 0) >= per_kind:
            continue
        kinds[kind] = kinds.get(kind, 0) + 1
        response = client.get(url, follow=True)
        if "text/html" not in response.get("Content-Type", ""):
            continue
        parser = InlineCode()
        parser.feed(response.content.decode())
        pages[url] = (response, parser)
        queue.extend(parser.links)
    return pages


@pytest.fixture
def seeded_cases(demo):
    call_command("seed_cases", verbosity=0)
    return demo


@pytest.mark.parametrize(
    "username", ["worker1", "chair1", "town_aid1", "med_head", "treasurer1", "county_auditor"]
)
def test_no_page_needs_inline_code(seeded_cases, client, username):
    client.force_login(seeded_cases.user(username))
    pages = crawl(client)
    # The crawl reached the people's real pages: tasks or cases, a case with its diagram.
    assert len(pages) >= 8, sorted(pages)
    assert any(re.fullmatch(r"/cases/\d+/", path) for path in pages), sorted(pages)
    for path, (response, parser) in pages.items():
        assert response.status_code == 200, path
        assert_strict_policy(response)
        assert parser.blocked == [], (path, parser.blocked)


def test_the_login_page_and_error_pages_carry_the_headers(db, client):
    for response in (client.get("/accounts/login/"), client.get("/no-such-page/")):
        assert_strict_policy(response)
        parser = InlineCode()
        parser.feed(response.content.decode())
        assert parser.blocked == []


def test_api_responses_carry_the_headers(demo, api, client):
    assert_strict_policy(api(demo.worker1).get("/api/v1/me/"))
    assert_strict_policy(client.get("/api/v1/cases/"))  # 401
    assert_strict_policy(api(demo.worker1).get("/api/v1/cases/999999/"))  # 404 JSON
    assert_strict_policy(client.get("/api/schema/"))


def test_the_admin_has_no_inline_code(demo, client):
    client.force_login(demo.admin)
    for path in ("/admin/", "/admin/organizations/organization/", "/admin/cases/case/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict_policy(response)
        parser = InlineCode()
        parser.feed(response.content.decode())
        assert parser.blocked == [], (path, parser.blocked)


def test_the_api_docs_are_the_only_exception_by_nonce(db, client):
    """Swagger UI's inline bootstrap runs by a nonce that changes on every request; nothing
    else on the page, and no other page, is allowed inline code."""
    nonces = []
    for _ in range(2):
        response = client.get("/api/docs/")
        assert response.status_code == 200
        policy = directives(response)
        [nonce] = {v for v in policy["script-src"] if v.startswith("'nonce-")}
        assert policy["script-src"] == ["'self'", nonce]
        assert policy["style-src"] == ["'self'", nonce]
        assert policy["img-src"] == ["'self'", "data:"]
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        assert "unsafe-inline" not in response["Content-Security-Policy"]
        html = response.content.decode()
        value = nonce.removeprefix("'nonce-").removesuffix("'")
        # Both inline blocks carry the nonce; the Swagger UI files come from our own server.
        assert html.count(f'nonce="{value}"') == 2
        assert re.search(r"<script(?![^>]*(src=|nonce=))", html) is None
        # (Not a search for "cdn": the page carries random tokens, which may spell it.)
        assert "/static/drf-yasg" not in html and not re.search(r"https?://|//cdn", html)
        links = re.findall(r"\b(?:src|href)\s*=\s*[\"']([^\"']+)", html)
        assert links and all(link.startswith("/static/") for link in links), links
        nonces.append(value)
    assert nonces[0] != nonces[1]
    # The exception stays on the docs page.
    assert "nonce-" not in client.get("/accounts/login/")["Content-Security-Policy"]
