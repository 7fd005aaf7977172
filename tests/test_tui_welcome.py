"""The first-run welcome, driven with Pilot at 80×24 against a real engine on a real Redis."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from helpers import pilot_wait_for, run_palette_command
from textual.widgets import Static

from tickr_app.tui import TickrApp
from tickr_app.tui.screens.welcome import (
    WelcomeScreen,
    curl_example,
    is_first_run,
    marker_path,
    submit_example,
)

SIZE = (80, 24)
PAYLOAD = {"to": "ada@example.com", "subject": "Hello", "body": "Hi"}
SUBMIT_DEFAULT = (
    'tickr submit email --payload \'{"to": "ada@example.com", "subject": "Hello", "body": "Hi"}\''
)


wait_for = pilot_wait_for


def shown(app: TickrApp) -> str:
    """The screen as text, the way a user sees it."""
    return html.unescape(app.export_screenshot()).replace("\xa0", " ")


def text_of(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


def test_examples_use_the_real_url_and_only_add_what_is_needed() -> None:
    assert submit_example("email", PAYLOAD, "http://127.0.0.1:8000") == SUBMIT_DEFAULT
    assert submit_example("email", PAYLOAD, "http://127.0.0.1:8123") == SUBMIT_DEFAULT + " --url http://127.0.0.1:8123"
    assert submit_example("email", PAYLOAD, None) == SUBMIT_DEFAULT
    curl = curl_example("email", PAYLOAD, "http://127.0.0.1:8123")
    assert curl == (
        "curl -s -X POST http://127.0.0.1:8123/api/v1/jobs -H 'Content-Type: application/json' -d "
        '\'{"type": "email", "payload": {"to": "ada@example.com", "subject": "Hello", "body": "Hi"}}\''
    )
    assert "Authorization: Bearer $TICKR_API_TOKEN" in curl_example("email", PAYLOAD, "http://h:1", token=True)


async def test_first_run_welcome_then_marker_then_w_brings_it_back(make_tickr, home: Path) -> None:
    tickr = await make_tickr(workers=2, builtin_jobs=True)
    assert is_first_run(home)
    app = TickrApp(tickr, api_url="http://127.0.0.1:8123", show_welcome=None)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen), "the welcome")
        screen = app.screen
        submit = SUBMIT_DEFAULT + " --url http://127.0.0.1:8123"  # not the default port: --url
        assert text_of(screen, "#welcome-submit") == submit
        assert text_of(screen, "#welcome-curl").startswith("curl -s -X POST http://127.0.0.1:8123/api/v1/jobs ")
        assert "2 workers" in text_of(screen, "#welcome-intro")

        # Everything fits at 80×24: the API, the example, the keys and the way out.
        text = shown(app)
        for expected in ("Welcome to Tickr", "http://127.0.0.1:8123/api/v1", "tickr submit email",
                         "curl -s -X POST", "ctrl+p", "this welcome", "Let's go"):
            assert expected in text, expected

        # The lines copy whole: selected with the mouse (no soft-wrap newlines) or with a button.
        submit_line = screen.query_one("#welcome-submit", Static)
        submit_line.text_select_all()
        assert screen.get_selected_text() == submit
        await pilot.click("#copy-submit")
        assert app.clipboard == submit
        await pilot.click("#copy-curl")
        assert app.clipboard == text_of(screen, "#welcome-curl")
        assert isinstance(app.screen, WelcomeScreen) and is_first_run(home)  # copying does not close it

        await pilot.press("enter")  # a copy puts the focus back on "Let's go": Enter closes
        await wait_for(pilot, lambda: not isinstance(app.screen, WelcomeScreen), "the welcome to close")
        assert marker_path(home).exists() and not is_first_run(home)

    # The next start does not show it; w (and the palette) do.
    app = TickrApp(tickr, api_url="http://127.0.0.1:8123", show_welcome=None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        assert not isinstance(app.screen, WelcomeScreen)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen), "the welcome on w")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, WelcomeScreen), "the welcome to close on escape")

        await run_palette_command(pilot, "welcome", expect="welcome")
        await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen), "the welcome from the palette")
        await pilot.click("#welcome-close")
        await wait_for(pilot, lambda: not isinstance(app.screen, WelcomeScreen), "the button to close it")


async def test_default_port_needs_no_url_and_a_token_is_mentioned(make_tickr, home: Path) -> None:
    tickr = await make_tickr(workers=1, builtin_jobs=True)
    app = TickrApp(tickr, api_url="http://127.0.0.1:8000", show_welcome=True, api_token=True, embedded_redis=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen), "the welcome")
        screen = app.screen
        assert text_of(screen, "#welcome-submit") == SUBMIT_DEFAULT
        assert "Authorization: Bearer $TICKR_API_TOKEN" in text_of(screen, "#welcome-curl")
        assert "embedded Redis under" in text_of(screen, "#welcome-intro")
        await pilot.press("escape")
    assert marker_path(home).exists()  # show_welcome=True still records it


async def test_no_welcome_by_default_so_embedding_apps_and_tests_are_not_interrupted(make_tickr, home: Path) -> None:
    tickr = await make_tickr(workers=1)
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        assert not isinstance(app.screen, WelcomeScreen)
    assert is_first_run(home)


async def test_attach_mode_welcome_explains_attaching_and_has_no_api_of_its_own(make_tickr) -> None:
    await make_tickr(workers=1, builtin_jobs=True)  # a Tickr "elsewhere" on the same Redis
    producer = await make_tickr(workers=0, builtin_jobs=True)
    app = TickrApp(producer, attach=True, show_welcome=None)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen), "the welcome")
        screen = app.screen
        intro = text_of(screen, "#welcome-intro")
        assert "attached" in intro and "no API and no workers" in intro and producer.prefix in intro
        assert not screen.query("#welcome-api") and not screen.query("#welcome-curl")
        assert text_of(screen, "#welcome-submit") == SUBMIT_DEFAULT
        text = shown(app)
        assert "Submit pane (1)" in text and "add --url" in text and "Let's go" in text
        assert "running jobs finish first" not in text  # nothing of ours to drain
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, WelcomeScreen), "the welcome to close")
