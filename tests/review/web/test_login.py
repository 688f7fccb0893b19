"""Login, logout, the login redirect, lockout and the login form's CSRF token."""

from __future__ import annotations

from service.review import list_audit
from tests.review.conftest import PASSWORD
from tests.review.web.conftest import MAX_FAILURES, Ui, csrf_of


def test_pages_need_a_login_and_come_back_after_it(ui: Ui) -> None:
    client = ui.anonymous()
    response = client.get("/ui/alerts/1?done=decided")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login?next=%2Fui%2Falerts%2F1%3Fdone%3Ddecided"
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert 'name="next" value="/ui/alerts/1?done=decided"' in page.text
    logged_in = client.post("/ui/login", data={"username": "rita", "password": PASSWORD,
                                               "csrf_token": csrf_of(page.text), "next": "/ui/alerts/1?done=decided"})
    assert logged_in.status_code == 303
    assert logged_in.headers["location"] == "/ui/alerts/1?done=decided"
    cookie = logged_in.headers["set-cookie"]
    assert "screening_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")


def test_the_login_page_never_redirects_off_site(ui: Ui) -> None:
    client = ui.anonymous()
    page = client.get("/ui/login?next=https://evil.example/")
    assert 'name="next" value="/ui/queue"' in page.text
    response = client.post("/ui/login", data={"username": "rita", "password": PASSWORD,
                                               "csrf_token": csrf_of(page.text), "next": "//evil.example/x"})
    assert response.headers["location"] == "/ui/queue"


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(ui: Ui) -> None:
    client = ui.anonymous()
    wrong_password = ui.login(client, "rita", "not the password")
    unknown_user = ui.login(client, "nobody", PASSWORD)
    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert "Wrong username or password" in response.text
        assert "screening_session=" not in response.headers.get("set-cookie", "")
    assert client.get("/ui/queue").status_code == 303


def test_repeated_failures_lock_the_account_even_against_the_right_password(ui: Ui) -> None:
    client = ui.anonymous()
    for _ in range(MAX_FAILURES):
        assert ui.login(client, "rob", "guessing wrong").status_code == 401
    locked = ui.login(client, "rob", PASSWORD)
    assert locked.status_code == 401
    assert f"After {MAX_FAILURES} failed attempts" in locked.text
    actions = [entry.action for entry in list_audit(ui.database) if entry.object_id == str(_user_id(ui, "rob"))]
    assert "login.refused_locked" in actions
    # Another person is not affected.
    assert ui.login(ui.anonymous(), "rita").status_code == 303


def _user_id(ui: Ui, name: str) -> int:
    from service.review.users import find_user

    return find_user(ui.database, name).id


def test_the_login_form_needs_its_csrf_token(ui: Ui) -> None:
    client = ui.anonymous()
    client.get("/ui/login")
    forged = client.post("/ui/login", data={"username": "rita", "password": PASSWORD, "csrf_token": "x" * 43})
    assert forged.status_code == 403
    assert "did not come from this site" in forged.text
    no_cookie = ui.anonymous().post("/ui/login", data={"username": "rita", "password": PASSWORD,
                                                       "csrf_token": "x" * 43})
    assert no_cookie.status_code == 403


def test_logout_ends_the_session_for_good(ui: Ui) -> None:
    client = ui.as_("rita")
    queue = client.get("/ui/queue")
    assert queue.status_code == 200
    token = client.cookies.get("screening_session")
    assert token
    response = client.post("/ui/logout", data={"csrf_token": csrf_of(queue.text)})
    assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    replay = ui.anonymous()
    replay.cookies.set("screening_session", token, path="/ui")
    assert replay.get("/ui/queue").status_code == 303


def test_logout_without_the_csrf_token_is_refused(ui: Ui) -> None:
    client = ui.as_("rita")
    response = client.post("/ui/logout", data={})
    assert response.status_code == 403
    assert "Form refused" in response.text
    assert client.get("/ui/queue").status_code == 200


def test_pages_carry_security_headers_and_static_files_are_served(ui: Ui) -> None:
    client = ui.as_("rita")
    page = client.get("/ui/queue")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    css = client.get("/ui/static/ui.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/ui/static/ui.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/ui/static/../rendering.py").status_code == 404
    assert client.get("/ui/static/missing.css").status_code == 404
