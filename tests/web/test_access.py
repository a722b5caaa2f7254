"""Who may see and act: token and basic auth, read-only mode, CSRF (token and origin),
and the `web` command's refusal to bind beyond this machine without a credential."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from qtasks.cli import main
from qtasks.cli.web import check_bind
from qtasks.web.dashboard import dashboard

from .conftest import NO_HTTPX2_WARNING, ORIGIN, TestClient, confirm_and_post, csrf_of, fill

pytestmark = NO_HTTPX2_WARNING


def basic(credentials: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def test_token_is_required_on_every_path(app: Any) -> None:
    with TestClient(dashboard(app, token="s3cret")) as client:
        for path in ("/", "/tasks", "/series.json", "/static/dashboard.js", "/dead"):
            assert client.get(path).status_code == 401, path
        assert client.get("/", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/", headers={"authorization": "Bearer s3cret"}).status_code == 200
        # ?token= once: a cookie instead, and the token leaves the address.
        first = client.get("/tasks?status=error&token=s3cret", follow_redirects=False)
        assert first.status_code == 303
        assert first.headers["location"] == "/tasks?status=error"
        assert "qtasks_token=s3cret" in first.headers["set-cookie"]
        assert "HttpOnly" in first.headers["set-cookie"]
        assert client.get("/tasks").status_code == 200  # the cookie now
        client.cookies.clear()
        assert client.get("/tasks").status_code == 401
        assert client.get("/?token=wrong").status_code == 401


def test_basic_auth(app: Any) -> None:
    with TestClient(dashboard(app, basic_auth="ops:pa:ss")) as client:
        denied = client.get("/")
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"].startswith("Basic")
        assert client.get("/", headers=basic("ops:wrong")).status_code == 401
        assert client.get("/", headers={"authorization": "Basic !!"}).status_code == 401
        assert client.get("/", headers=basic("ops:pa:ss")).status_code == 200


def test_bad_credentials_settings_are_refused(app: Any) -> None:
    with pytest.raises(ValueError, match="not both"):
        dashboard(app, token="t", basic_auth="u:p")
    with pytest.raises(ValueError, match="user:password"):
        dashboard(app, basic_auth="nopassword")
    with pytest.raises(ValueError, match="empty"):
        dashboard(app, token="")
    with pytest.raises(TypeError, match="not a qtasks app"):
        dashboard(object())


def test_read_only_shows_no_action_and_refuses_posts(app: Any) -> None:
    ids = fill(app)
    with TestClient(dashboard(app, read_only=True)) as client:
        for path in ("/", "/tasks", f"/tasks/{ids['bad']}", "/dead"):
            page = client.get(path)
            assert page.status_code == 200 and "data-action" not in page.text, path
            assert "read-only" in page.text
        assert client.get(f"/confirm/retry?uuid={ids['bad']}").status_code == 403
        csrf = client.cookies["qtasks_csrf"]
        refused = client.post(
            "/do/retry", data={"csrf": csrf, "uuid": ids["bad"]}, headers={"origin": ORIGIN}
        )
        assert refused.status_code == 403
    assert "retried_as" not in app.get(ids["bad"]).extra


def test_actions_show_when_not_read_only(app: Any, client: TestClient) -> None:
    ids = fill(app)
    page = client.get(f"/tasks/{ids['bad']}").text
    assert 'data-action="retry"' in page


def test_csrf_token_and_origin_are_checked(app: Any, client: TestClient) -> None:
    ids = fill(app)
    confirm = client.get("/confirm/retry", params={"uuid": ids["bad"]})
    token = csrf_of(confirm.text)
    assert token == client.cookies["qtasks_csrf"]
    cookie = confirm.headers.get("set-cookie") or ""
    assert cookie == "" or "SameSite=Strict" in cookie

    def post(data: dict[str, str], **headers: str) -> Any:
        return client.post("/do/retry", data=data, headers=headers, follow_redirects=False)

    form = {"uuid": ids["bad"]}
    assert post(form, origin=ORIGIN).status_code == 403  # no token
    assert post({**form, "csrf": "x" * 43}, origin=ORIGIN).status_code == 403  # wrong token
    assert post({**form, "csrf": token}).status_code == 403  # no Origin nor Referer
    assert post({**form, "csrf": token}, origin="http://evil.example").status_code == 403
    assert post({**form, "csrf": token}, referer="http://evil.example/x").status_code == 403
    assert "retried_as" not in app.get(ids["bad"]).extra  # nothing went through

    done = post({**form, "csrf": token}, referer=f"{ORIGIN}/tasks")
    assert done.status_code == 303 and "/tasks/" in done.headers["location"]
    assert "retried_as" in app.get(ids["bad"]).extra


def test_a_new_browser_has_no_token_to_post_with(app: Any, client: TestClient) -> None:
    ids = fill(app)
    client.get("/")
    other = TestClient(client.app)
    response = other.post(
        "/do/retry",
        data={"csrf": client.cookies["qtasks_csrf"], "uuid": ids["bad"]},
        headers={"origin": ORIGIN},
    )
    assert response.status_code == 403


def test_trusted_origins_may_post(app: Any) -> None:
    ids = fill(app)
    dash = dashboard(app, trusted_origins=["https://ops.example.com"])
    with TestClient(dash) as client:
        response = confirm_and_post(
            client, "retry", {"uuid": ids["bad"]}, origin="https://ops.example.com"
        )
    assert response.status_code == 303


def test_web_command_binds_beyond_localhost_only_with_a_credential(
    capsys: pytest.CaptureFixture[str],
) -> None:
    check_bind("127.0.0.1", None, None)
    check_bind("::1", None, None)
    check_bind("0.0.0.0", "t", None)
    check_bind("10.0.0.5", None, "u:p")
    with pytest.raises(SystemExit) as exit_info:
        main(["-A", "nowhere:app", "web", "--host", "0.0.0.0"])
    assert exit_info.value.code == 2
    assert "refusing to bind 0.0.0.0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["-A", "x:app", "web", "--token", "t", "--basic-auth", "u:p"])
    assert "not allowed with" in capsys.readouterr().err


def test_no_framing_and_no_forged_messages(app: Any, client: TestClient) -> None:
    page = client.get("/")
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    forged = client.get("/tasks", params={"msg": "Session expired: log in at evil.example"})
    assert "evil.example" not in forged.text
    signed = client.get("/tasks", params={"msg": "x", "sig": "0" * 64})
    assert 'id="flash"' not in signed.text
