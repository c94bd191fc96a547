"""The JSON API of `monitor serve` (bearer tokens) and `monitor users`: 201 with the check's JSON,
its id and links; 401 without a token; 404 for another site's workbook; 400/413 with the line
`check` prints for a refused upload; users and tokens from the command line."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from monitor.cli import app as cli_app
from web_helpers import SAMPLE, make_app, token


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("webapi")
    app = make_app(tmp)
    c = TestClient(app)
    alice = {"Authorization": f"Bearer {token(app, 'alice')}"}
    bob = {"Authorization": f"Bearer {token(app, 'bob')}"}
    r = c.post("/api/workbooks", headers=alice, files={"file": ("demo_study.xlsx", SAMPLE.read_bytes())})
    yield {"app": app, "c": c, "alice": alice, "bob": bob, "first": r, "tmp": tmp}
    app.state.checker.close()


def test_an_upload_returns_201_with_checks_json_its_id_and_links(api):
    r = api["first"]
    assert r.status_code == 201, r.text
    doc = r.json()
    assert isinstance(doc["id"], int) and doc["workbook"].startswith("site01/demo_study-")
    assert doc["links"] == {"self": f"/api/workbooks/{doc['id']}", "annotated": f"/api/workbooks/{doc['id']}/annotated",
                            "report": f"/api/workbooks/{doc['id']}/report"}
    assert doc["summary"]["by_severity"]["critical"] > 0
    crit = [f for f in doc["findings"] if f["severity"] == "critical"]
    assert crit and all(f["sheet"] and f["status"] == "open" for f in crit)
    assert r.headers["location"] == doc["links"]["self"]


def test_the_workbook_and_its_annotated_copy_come_back(api):
    doc = api["first"].json()
    again = api["c"].get(doc["links"]["self"], headers=api["alice"])
    assert again.status_code == 200
    assert [f["id"] for f in again.json()["findings"]] == [f["id"] for f in doc["findings"]]
    r = api["c"].get(doc["links"]["annotated"], headers=api["alice"])
    assert r.status_code == 200 and r.content[:2] == b"PK"


def test_no_token_is_401_and_another_sites_workbook_is_404(api):
    doc = api["first"].json()
    assert api["c"].get(doc["links"]["self"]).status_code == 401
    assert api["c"].post("/api/workbooks", files={"file": ("a.xlsx", b"PK")}).status_code == 401
    for link in doc["links"].values():
        r = api["c"].get(link, headers=api["bob"])
        assert r.status_code == 404 and "demo_study" not in r.text
    assert api["c"].get("/api/workbooks/99999", headers=api["alice"]).status_code == 404


def test_uploading_to_another_site_is_403(api):
    r = api["c"].post("/api/workbooks", headers=api["alice"], data={"site": "site02"},
                      files={"file": ("demo_study.xlsx", SAMPLE.read_bytes())})
    assert r.status_code == 403


def test_a_refused_upload_is_4xx_with_the_line_check_prints(api, tmp_path):
    bad = tmp_path / "fake.xlsx"
    bad.write_bytes(b"not a zip at all")
    r = api["c"].post("/api/workbooks", headers=api["alice"], files={"file": ("fake.xlsx", bad.read_bytes())})
    assert r.status_code == 400
    cli = CliRunner().invoke(cli_app, ["check", str(bad), "--out", str(tmp_path / "o")])
    assert cli.exit_code == 2
    line = cli.stderr.strip().removeprefix("monitor: ")
    assert r.json()["error"] == line.replace(str(bad), "fake.xlsx")


def test_a_monitor_of_several_sites_names_the_site(api):
    mona = {"Authorization": f"Bearer {token(api['app'], 'mona')}"}
    r = api["c"].post("/api/workbooks", headers=mona, files={"file": ("demo_study.xlsx", b"PK")})
    assert r.status_code == 400 and "site" in r.json()["error"]


# ---------------------------------------------------------------------------- monitor users

def cli(*args, stdin: str = ""):
    return CliRunner().invoke(cli_app, [str(a) for a in args], input=stdin)


def test_users_add_token_and_list_from_the_command_line(tmp_path):
    out = tmp_path / "out"
    r = cli("users", "add", "carol", "--role", "coordinator", "--site", "site07", "--password-stdin", "--out", out,
            stdin="a-good-password\n")
    assert r.exit_code == 0, r.output
    r = cli("users", "token", "carol", "--out", out)
    assert r.exit_code == 0
    tok = r.stdout.strip()
    assert len(tok.splitlines()) == 1 and len(tok) > 30
    assert cli("users", "list", "--out", out).stdout.strip() == "carol\tcoordinator\tsite07"
    from monitor.web import store

    st = store.Store(out)
    assert store.user_by_token(st.conn, tok).name == "carol"
    assert store.user_by_token(st.conn, tok + "x") is None


@pytest.mark.parametrize("args, words", [
    (["--role", "coordinator", "--password-stdin"], "exactly one site"),
    (["--role", "monitor", "--password-stdin"], "at least one --site"),
    (["--role", "data-manager", "--site", "s1", "--password-stdin"], "leave out --site"),
    (["--role", "admin", "--password-stdin"], "--role must be one of"),
    (["--role", "coordinator", "--site", "../etc", "--password-stdin"], "not a plain folder name"),
    (["--role", "coordinator", "--site", "s1"], "--password-stdin"),
])
def test_users_add_refuses_with_one_line(tmp_path, args, words):
    r = cli("users", "add", "x", *args, "--out", tmp_path / "out", stdin="a-good-password\n")
    assert r.exit_code == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_user_name_is_added_once_and_a_short_password_refused(tmp_path):
    out = tmp_path / "out"
    ok = ["users", "add", "x", "--role", "data-manager", "--password-stdin", "--out", out]
    assert cli(*ok, stdin="short\n").exit_code == 2
    assert cli(*ok, stdin="long-enough\n").exit_code == 0
    r = cli(*ok, stdin="long-enough\n")
    assert r.exit_code == 2 and "exists already" in r.stderr


def test_users_live_in_the_history_store_at_schema_5(tmp_path):
    from monitor.batch.history import History, schema_version

    cli("users", "add", "x", "--role", "data-manager", "--password-stdin", "--out", tmp_path, stdin="long-enough\n")
    with History(tmp_path) as h:
        assert schema_version(h.conn) == 5
        assert json.loads(json.dumps([r[0] for r in h.conn.execute("SELECT name FROM users")])) == ["x"]


def test_serve_refuses_an_output_folder_inside_the_inbox_writing_nothing(tmp_path):
    (tmp_path / "inbox" / "site01").mkdir(parents=True)
    r = cli("serve", tmp_path / "inbox", "--out", tmp_path / "inbox" / "out", "--port", 0)
    assert r.exit_code == 2 and "inside the inbox" in r.stderr
    assert sorted(p.name for p in (tmp_path / "inbox").iterdir()) == ["site01"]
    r = cli("serve", tmp_path / "missing", "--out", tmp_path / "out", "--port", 0)
    assert r.exit_code == 2 and "no such folder" in r.stderr
