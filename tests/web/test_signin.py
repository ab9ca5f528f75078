"""Sign-in by a mailed link and by a personal token; limits; what is open without sign-in."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import httpx
from playwright.sync_api import expect
from starlette.routing import Mount, Route

from engine.web.auth import SESSION_COOKIE, person_token
from tests.web.conftest import body_of, link_in, wait_for

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
OPEN = ("/signin", "/approve/", "/healthz", "/metrics", "/events", "/webhooks/", "/static/",
        "/api/openapi.json")  # the API's description: no data in it


def csrf_of(page: httpx.Response) -> str:
    return CSRF.search(page.text).group(1)


def ask_link(client: httpx.Client, address: str, target: str = "/") -> httpx.Response:
    form = client.get("/signin")
    return client.post("/signin", data={"csrf_token": csrf_of(form), "email": address,
                                        "next": target})


def test_sign_in_by_mailed_link(studio, page) -> None:
    with studio.client() as client:
        known = ask_link(client, "Fran@Studio.example", "/status?client=brill")
        unknown = ask_link(client, "nobody@studio.example")
    # The same neutral reply for both; mail only for the person.
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("Fran@Studio.example".lower(), "X") == \
        unknown.text.replace("nobody@studio.example", "X")
    [mail] = wait_for(lambda: studio.mailbox.to("fran@studio.example", "sign-in link"),
                      "the sign-in mail")
    assert not studio.mailbox.to("nobody@studio.example")
    link = link_in(mail)
    assert "works once" in body_of(mail)

    # In the browser: the link asks first (a scanner's GET spends nothing), then signs in.
    page.goto(link)
    page.goto(link)
    expect(page.get_by_role("heading", name="Sign in as Fran Finch?")).to_be_visible()
    page.get_by_role("button", name="Sign in").click()
    assert page.url.endswith("/status?client=brill")
    [cookie] = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # plain HTTP on loopback; Secure everywhere else
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    # The link worked once.
    answer = page.goto(link)
    assert answer.status == 410 and "used already" in page.content()
    page.goto(studio.base + "/signin")
    page.get_by_role("button", name="Sign out").click()
    assert page.url.endswith("/signin")
    assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]


def test_sign_in_by_personal_token(studio) -> None:
    token = person_token(studio.daemon.web, "lee", datetime.now(timezone.utc))
    with studio.client() as client:
        form = client.get("/signin")
        wrong = client.post("/signin/token", data={"csrf_token": csrf_of(form),
                                                   "token": token.split(".")[0] + ".AAAA", "next": "/"})
        assert wrong.status_code == 403 and SESSION_COOKIE not in wrong.cookies
        right = client.post("/signin/token", data={"csrf_token": csrf_of(form), "token": token,
                                                   "next": "https://evil.example/"})
        assert right.status_code == 303 and right.headers["location"] == "/"
        assert SESSION_COOKIE in client.cookies
        # Without the CSRF token, a form from another site cannot sign anyone in or out.
        assert client.post("/signout", data={}).status_code == 403


def test_sign_in_is_rate_limited(studio) -> None:
    with studio.client() as client:
        answers = [ask_link(client, "lee@studio.example").status_code for _ in range(6)]
    assert answers == [200] * 5 + [429]
    wait_for(lambda: len(studio.mailbox.to("lee@studio.example", "sign-in link")) == 5,
             "five sign-in mails")
    with studio.client() as client:  # the same client trying many addresses
        answers = [ask_link(client, f"x{n}@studio.example").status_code for n in range(20)]
    assert answers.count(429) == 6  # 20 per client per quarter hour: 6 spent above


def test_only_the_open_paths_are_open(studio) -> None:
    """Every GET route outside the open list sends strangers to /signin (pages) or says 401."""
    app = studio.daemon.http.app
    checked = 0
    with studio.client() as client:
        for route in app.routes:
            if isinstance(route, Mount) or not isinstance(route, Route):
                continue
            path = route.path
            if path.startswith(OPEN) or path == "/":
                continue
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                answer = client.request(method, concrete, follow_redirects=True)
                if answer.history:  # a page: on to the sign-in form
                    assert answer.url.path == "/signin", (method, path, answer.url)
                else:
                    assert answer.status_code in (401, 403), (method, path, answer.status_code)
                checked += 1
    assert checked >= 1  # /signout at least
