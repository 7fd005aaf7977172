"""``TickrApp``: the Textual dashboard. It drives an engine the caller owns.

The app never starts an event loop or owns an engine: the CLI runs engine, API and app in one
loop (``await app.run_async()``), tests do the same with ``app.run_test()``. Given a
``startup`` coroutine (``tickr tui`` passes the runtime's start), the app opens at once, shows
the start-up steps, and mounts the panes when the engine is running; a failed start ends the app
with ``startup_error`` set for the caller to report. Every Redis call runs in a worker, so the
UI never waits on Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen
from textual.widgets import ContentSwitcher, Header

from ..core.connection import mask_url
from ..core.engine import Tickr
from ..core.errors import TickrError
from ..core.home import short_path
from ..core.keys import DEFAULT_QUEUE
from ..gc_policy import settle_gc
from .commands import SCOPE_BY_ACTION, TickrCommands, TuiCommand, bindings
from .controller import PoolTarget, TuiController
from .format import loop_lag_text, short_id
from .messages import ConfirmRequested, JobsChanged, LimitsFormRequested, OpenJob, ScheduleFormRequested
from .screens.confirm import ConfirmScreen
from .screens.drain import DrainScreen
from .screens.find import FindJobScreen, TypeFilterScreen
from .screens.flow import PriorityScreen, WeightsScreen
from .screens.help import HelpScreen
from .screens.job_detail import JobDetailScreen
from .screens.welcome import WelcomeInfo, WelcomeScreen, is_first_run, mark_welcomed
from .widgets.dashboard import Dashboard
from .widgets.job_table import JobTable
from .widgets.key_bar import KeyBar
from .widgets.queues_pane import QueuesPane
from .widgets.schedules_pane import ScheduleCommands, SchedulesPane
from .widgets.startup_view import StartupProgress, StartupView
from .widgets.submit_pane import SubmitPane
from .widgets.tab_strip import TabStrip
from .widgets.workers_pane import WorkersPane
from .widgets.workflows_pane import WorkflowCommands, WorkflowsPane

LAG_EVERY_S = 1.0
"""How often the status line shows the event-loop lag again."""

log = logging.getLogger("tickr.tui")

Pane = Literal["submit", "queues", "workers", "schedules", "workflows"]
Startup = Callable[[StartupProgress], Awaitable["str | None"]]
"""Starts the engine (and the API), reporting its steps; returns the API URL, if any."""


class TickrApp(App[None]):
    """Submit jobs, watch the queues live, pause and scale workers."""

    CSS_PATH = "tickr.tcss"
    TITLE = "Tickr"
    BINDINGS = bindings()
    COMMANDS = App.COMMANDS | {TickrCommands, ScheduleCommands, WorkflowCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    def __init__(
        self,
        tickr: Tickr,
        *,
        api_url: str | None = None,
        attach: bool = False,
        show_welcome: bool | None = False,
        startup: Startup | None = None,
        embedded_redis: bool = False,
        api_token: bool = False,
        tune_gc: bool = False,
    ) -> None:
        """``show_welcome``: True shows the welcome when the panes open, False never (the
        default, for tests and embedding), None on the first run only (no marker file in the
        engine's home yet, and not in a browser tab; ``tickr tui`` passes None).
        ``startup``: see the module docstring; without it the engine must already be running.
        ``embedded_redis`` and ``api_token`` only change what the welcome says.
        ``tune_gc``: once the panes are up, apply the process-wide ``settle_gc()`` (the CLI
        does; tests and embedders keep their own collector settings)."""
        super().__init__()
        self.tickr = tickr
        self.api_url = api_url
        self.controller = TuiController(tickr)
        self.attach = attach or (startup is None and not tickr.has_pool)
        """No pool of our own: pool keys command the worker process selected on Workers."""
        self.show_welcome = show_welcome
        self.embedded_redis = embedded_redis
        self.api_token = api_token
        self.tune_gc = tune_gc
        self.draining: DrainScreen | None = None
        self._startup = startup
        self.started = startup is None
        """The engine runs and the panes are mounted."""
        self.startup_error: BaseException | None = None
        """Why the start failed (the app has exited with return code 1)."""

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Dashboard(self.tickr) if self.started else StartupView()
        yield KeyBar()

    def on_mount(self) -> None:
        if self.started:
            self._panes_ready()
        else:
            self.sub_title = "starting…"
            self._start()
        self._labels: tuple[object, ...] = ()
        self.set_interval(0.2, self._follow_labels)

    # -- key labels that follow the state ("p Resume" once paused) -------------------------

    def _label_state(self) -> tuple[object, ...]:
        if not self.started:
            return ()
        try:
            queue = self.queues_pane.queue or DEFAULT_QUEUE
            stats = self.queues_pane.stats.get(queue)
            return (self.pool_target_paused(), stats is not None and stats.paused)
        except NoMatches:
            return ()

    def _follow_labels(self) -> None:
        state = self._label_state()
        if state != self._labels and self.screen_stack:  # not once the app has closed its screens
            self._labels = state
            self.refresh_bindings()

    def binding_label(self, binding: Binding) -> str:
        """The key bar's word for a binding: what pressing it would do now."""
        state = self._label_state()
        if state and binding.action == "toggle_pause_pool" and state[0]:
            return "Resume"
        if state and binding.action == "toggle_pause_queue" and state[1]:
            return "Resume queue"
        return binding.description

    def pool_target_paused(self) -> bool | None:
        """Whether the process ``p`` acts on is paused (None: no target)."""
        target = self.controller.pool_target(self.workers_pane.selected_worker)
        return target.paused if target is not None else None

    @work(group="startup", exit_on_error=False)
    async def _start(self) -> None:
        assert self._startup is not None
        view = self.query_one(StartupView)
        try:
            self.api_url = await self._startup(view)
        except Exception as exc:  # reported by the caller as one line, after the terminal is restored
            log.debug("start failed", exc_info=True)
            self.startup_error = exc
            self.exit(return_code=1)
            return
        if not self.tickr.has_pool:
            self.attach = True
        await view.remove()
        await self.mount(Dashboard(self.tickr), before=self.query_one(KeyBar))
        self.started = True
        self._panes_ready()
        self.refresh_bindings()

    def _panes_ready(self) -> None:
        """The engine runs and the panes are mounted."""
        parts = []
        if self.attach:
            parts.append("attached")
        elif self.tickr.has_pool:
            parts.append(f"worker {self.tickr.worker_id}")
        if self.api_url:
            parts.append(f"API {self.api_url}")
        parts.append(f"prefix {self.tickr.prefix}")
        self._title_parts = parts
        self._show_loop_lag()
        self.set_interval(LAG_EVERY_S, self._show_loop_lag)
        self.query_one(QueuesPane).visible_table.focus()
        if self.tune_gc:
            self.call_after_refresh(settle_gc)
        if self.show_welcome or (self.show_welcome is None and self._first_run()):
            self.action_welcome()

    def _show_loop_lag(self) -> None:
        """The status line: this process's event-loop lag, and who held the loop last (issue #12)."""
        parts = list(getattr(self, "_title_parts", []))
        lag = self.tickr.loop_lag()  # the largest lag of about the last second
        if lag is not None:
            parts.append(loop_lag_text(lag.lag_ms, lag.offender, lag.offender_ms))
        title = " · ".join(parts)
        if title != self.sub_title:
            self.sub_title = title

    def _first_run(self) -> bool:
        """No welcome yet in this home. A browser tab of ``tickr web`` is not a first run: the
        tabs are attached views of an engine someone started on purpose (``w`` still works)."""
        return not self.is_web and is_first_run(self.tickr.home)

    def on_resize(self, event: events.Resize) -> None:
        # On narrow terminals the key bar needs the room for keys; ctrl+p still opens the palette.
        for bar in self.query(KeyBar):
            bar.show_command_palette = event.size.width >= 100

    @property
    def pane(self) -> Pane:
        return self.query_one("#panes", ContentSwitcher).current  # type: ignore[return-value]

    @property
    def queues_pane(self) -> QueuesPane:
        return self.query_one(QueuesPane)

    @property
    def workers_pane(self) -> WorkersPane:
        return self.query_one(WorkersPane)

    # -- where each command applies (keys, footer and palette) -----------------------------

    def command_available(self, command: TuiCommand, screen: Screen[Any]) -> bool:
        return self._available(command.action.split("(", 1)[0], command.scope, screen)

    def _available(self, action: str, scope: str, screen: Screen[Any]) -> bool:
        if self.draining is not None:
            return False
        if not self.started:
            return action in ("help", "toggle_theme") and not isinstance(screen, ModalScreen)
        if isinstance(screen, JobDetailScreen):
            return scope == "job" or action in ("help", "toggle_theme")
        if isinstance(screen, ModalScreen):
            return False
        pane = self.pane
        if scope == "global":
            return True
        if scope == "pool":
            return pane == "workers"
        if scope == "queue":
            return pane in ("queues", "workers")
        if scope in ("job", "queues"):
            return pane == "queues"
        if scope == "submit":
            return pane == "submit"
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "quit":
            return True  # also while draining: a second quit stops at once
        scope = SCOPE_BY_ACTION.get(action)
        if scope is None:
            return True
        return self._available(action, scope, self.screen)

    # -- panes -----------------------------------------------------------------------------

    def action_switch_pane(self, pane: Pane) -> None:
        self.query_one("#panes", ContentSwitcher).current = pane
        self.query_one("#pane-tabs", TabStrip).active = pane
        self.refresh_bindings()
        if pane == "queues":
            self.queues_pane.visible_table.focus()
            self.queues_pane.refresh_now()
        elif pane == "workers":
            self.workers_pane.table.focus()
            self.workers_pane.refresh_now()
        elif pane == "schedules":
            schedules = self.query_one(SchedulesPane)
            schedules.table.focus()
            schedules.refresh_now()
        elif pane == "workflows":
            workflows = self.query_one(WorkflowsPane)
            workflows.table.focus()
            workflows.refresh_now()
        else:
            for select in self.query("#job-type"):
                select.focus()

    def on_tab_strip_selected(self, event: TabStrip.Selected) -> None:
        if event.strip.id == "pane-tabs":
            self.action_switch_pane(event.tab)  # type: ignore[arg-type]

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def welcome_info(self) -> WelcomeInfo:
        tickr = self.tickr
        if self.embedded_redis:
            redis = f"the embedded Redis under {short_path(tickr.home)}"
        else:
            redis = f"Redis at {mask_url(tickr.redis_url)}" if tickr.redis_url else "its Redis"
        registry = tickr.registry
        job_type = "email" if "email" in registry else next((t.name for t in registry), None)
        return WelcomeInfo(
            home=tickr.home,
            redis=redis,
            prefix=tickr.prefix,
            api_url=None if self.attach else self.api_url,
            attach=self.attach,
            workers=state.concurrency if (state := tickr.pool_state()) is not None else 0,
            token=self.api_token,
            job_type=job_type,
        )

    def action_welcome(self) -> None:
        """The welcome; closing it records that this home has been welcomed."""
        home = self.tickr.home
        self.push_screen(WelcomeScreen(self.welcome_info()), lambda _result: mark_welcomed(home))

    def action_submit_job(self) -> None:
        self.query_one(SubmitPane).submit()

    # -- messages from the widgets ---------------------------------------------------------

    def on_open_job(self, message: OpenJob) -> None:
        self.push_screen(JobDetailScreen(self.tickr, message.job_id))

    def on_jobs_changed(self, message: JobsChanged) -> None:
        self.queues_pane.refresh_now()

    # -- running engine commands ---------------------------------------------------------

    def _run_command(self, title: str, call: Callable[[], Awaitable[str]]) -> None:
        """Run a controller command in a worker (it talks to Redis) and show its outcome."""

        async def run() -> None:
            try:
                message = await call()
            except TickrError as exc:  # RedisUnavailable included: the facade lets nothing else out
                self.notify(exc.message, title=title, severity="error")
                return
            self.notify(message, title=title)
            self.queues_pane.refresh_now()
            self.workers_pane.refresh_now()
            if isinstance(self.screen, JobDetailScreen):
                self.screen.reload()

        self.run_worker(run(), group="commands", exit_on_error=False)

    # -- job actions -----------------------------------------------------------------------

    def _selected_job(self) -> str | None:
        if isinstance(self.screen, JobDetailScreen):
            return self.screen.job_id
        job_id = self.queues_pane.selected_job_id
        if job_id is None:
            self.notify("No job selected: pick one in a table first.", severity="warning")
        return job_id

    def action_show_job(self) -> None:
        job_id = self._selected_job()
        if job_id is not None and not isinstance(self.screen, JobDetailScreen):
            self.push_screen(JobDetailScreen(self.tickr, job_id))

    def action_retry_job(self) -> None:
        job_id = self._selected_job()
        if job_id is not None:
            self._run_command("Retry", lambda: self.controller.retry_job(job_id))

    def action_set_priority(self) -> None:
        job_id = self._selected_job()
        if job_id is None:
            return
        current = next((j.priority for t in self.queues_pane.query(JobTable) for j in t.jobs if j.id == job_id), 0)
        if isinstance(self.screen, JobDetailScreen) and self.screen.job is not None:
            current = self.screen.job.priority

        def answered(text: str | None) -> None:
            if text is not None:
                self._run_command("Priority", lambda: self.controller.set_priority(job_id, text))

        self.push_screen(PriorityScreen(short_id(job_id), current), answered)

    def action_cancel_job(self) -> None:
        job_id = self._selected_job()
        if job_id is not None:
            self._run_command("Cancel", lambda: self.controller.cancel_job(job_id))

    def action_delete_job(self) -> None:
        job_id = self._selected_job()
        if job_id is None:
            return
        detail = self.screen if isinstance(self.screen, JobDetailScreen) else None

        def answered(sure: bool | None) -> None:
            if not sure:
                return
            if detail is not None and detail.is_attached:
                detail.dismiss(None)
            self._run_command("Delete", lambda: self.controller.delete_job(job_id))

        self.push_screen(
            ConfirmScreen(
                "Delete job?", f"Delete job {job_id} and its record? This cannot be undone.", confirm="Delete"
            ),
            answered,
        )

    def on_confirm_requested(self, message: ConfirmRequested) -> None:
        def answered(sure: bool | None) -> None:
            if sure:
                message.on_sure()

        self.push_screen(
            ConfirmScreen(message.title, message.text, confirm=message.confirm, danger=message.danger), answered
        )

    def on_schedule_form_requested(self, message: ScheduleFormRequested) -> None:
        from .screens.schedule_form import ScheduleFormScreen

        self.push_screen(ScheduleFormScreen(self.tickr), message.on_saved)

    def on_limits_form_requested(self, message: LimitsFormRequested) -> None:
        from .screens.limits_form import LimitsFormScreen

        stats = self.queues_pane.stats.get(message.queue)
        current = stats.limits if stats is not None else None
        self.push_screen(LimitsFormScreen(self.tickr, message.queue, current), message.on_saved)

    def _dead_jobs_of_queue(self) -> tuple[str, str] | None:
        """The selected queue and how to name its dead jobs in a question; None (and a word to
        the user) when it has none."""
        queue = self.queues_pane.queue or DEFAULT_QUEUE
        stats = self.queues_pane.stats.get(queue)
        dead = stats.dead if stats is not None else None
        if dead == 0:
            self.notify(f"Queue {queue} has no dead jobs.")
            return None
        return queue, f"all {dead:,} dead jobs" if dead is not None else "every dead job"

    def action_retry_all_dead(self) -> None:
        found = self._dead_jobs_of_queue()
        if found is None:
            return
        queue, what = found
        self.post_message(
            ConfirmRequested(
                "Retry all dead jobs?",
                f"Put {what} of queue {queue} back to ready?",
                "Retry all",
                lambda: self._run_command("Retry all dead", lambda: self.controller.retry_dead(queue)),
                danger=False,
            )
        )

    def action_delete_all_dead(self) -> None:
        found = self._dead_jobs_of_queue()
        if found is None:
            return
        queue, what = found
        self.post_message(
            ConfirmRequested(
                "Delete all dead jobs?",
                f"Delete {what} of queue {queue} and their records? This cannot be undone.",
                "Delete all",
                lambda: self._run_command("Delete all dead", lambda: self.controller.delete_dead(queue)),
            )
        )

    def action_find_job(self) -> None:
        """Ask for a job id; open its details, or say that there is no such job."""

        def answered(text: str | None) -> None:
            if text:
                self.run_worker(self._open_by_id(text), group="find-job", exit_on_error=False)

        self.push_screen(FindJobScreen(), answered)

    async def _open_by_id(self, text: str) -> None:
        try:
            job = await self.tickr.get(text)
        except TickrError as exc:  # RedisUnavailable included
            self.notify(exc.message, title="Find job", severity="error")
            return
        job_id = job.id if job is not None else None
        if job_id is None:  # the start of an id shown in a table (the tables show 8 characters)
            matches = sorted({i for i in self.queues_pane.shown_job_ids() if i.startswith(text)})
            if len(matches) > 1:
                self.notify(f"{len(matches)} jobs start with {text!r}: type more of the id.", severity="warning")
                return
            job_id = matches[0] if matches else None
        if job_id is None:
            self.notify(f"No job with id {text!r} (finished jobs expire).", title="Find job", severity="warning")
            return
        self.push_screen(JobDetailScreen(self.tickr, job_id))

    def action_filter_type(self) -> None:
        pane = self.queues_pane
        seen = {job.type for table in pane.query(JobTable) for job in table.jobs}
        types = sorted(seen | {t.name for t in self.tickr.registry})

        def answered(choice: str | None) -> None:
            if choice is not None:
                pane.set_type_filter(choice or None)

        self.push_screen(TypeFilterScreen(types, pane.type_filter), answered)

    # -- pool and queue actions ------------------------------------------------------------

    def _target_gone(self) -> bool:
        """The process the user chose has left the registry: say so, act on nothing else."""
        gone = self.workers_pane.missing
        if gone is not None:
            self.notify(f"Worker process {gone} is gone: select another one.", severity="warning")
        return gone is not None

    def _pool_target(self) -> PoolTarget | None:
        if self._target_gone():
            return None
        target = self.controller.pool_target(self.workers_pane.selected_worker)
        if target is None:
            self.notify(
                "No worker process selected (attached: this TUI runs no pool of its own).", severity="warning"
            )
        return target

    async def _pool_command(self, target: PoolTarget, title: str, call: Callable[[], Awaitable[str]]) -> None:
        """This pool's commands take effect at once (no Redis): run them here, so the panel
        shows the change on its next frame; another process's go through Redis, in a worker."""
        if not target.local:
            self._run_command(title, call)
            return
        try:
            message = await call()
        except TickrError as exc:
            self.notify(exc.message, title=title, severity="error")
            return
        self.notify(message)
        self.workers_pane.refresh_now()

    async def action_toggle_pause_pool(self) -> None:
        target = self._pool_target()
        if target is None:
            return
        if not target.local:
            self.workers_pane.expect(target.id, paused=not target.paused)
        title = "Resume" if target.paused else "Pause"
        await self._pool_command(target, title, lambda: self.controller.toggle_pause(target))

    async def action_scale(self, delta: int) -> None:
        target = self._pool_target()
        if target is None:
            return
        concurrency = self.controller.scaled(target, delta)
        if concurrency is None:
            self.notify("The pool is already at 0 slots.", severity="warning")
            return
        if not target.local:
            self.workers_pane.expect(target.id, concurrency=concurrency)
        await self._pool_command(target, "Scale", lambda: self.controller.scale(target, concurrency))

    def action_edit_weights(self) -> None:
        target = self._pool_target()
        if target is None:
            return

        def answered(answer: tuple[str, bool] | None) -> None:
            if answer is None:
                return
            text, strict = answer

            async def apply() -> str:
                weights = self.controller.parse_weights(text)
                if not target.local:
                    self.workers_pane.expect(target.id, weights={**target.weights, **weights}, strict=strict)
                return await self.controller.set_weights(target, weights, strict)

            self._run_command("Weights", apply)

        self.push_screen(WeightsScreen(target.id, self.controller.weights_text(target), target.strict), answered)

    def action_toggle_pause_queue(self) -> None:
        queue = self.queues_pane.queue or DEFAULT_QUEUE
        async def toggle() -> str:
            message = await self.controller.toggle_queue_pause(queue)
            stats = self.queues_pane.stats.get(queue)
            if stats is not None:  # until the next poll (the Queues pane may be hidden): the key bar reads it
                stats.paused = await self.tickr.is_paused(queue)
            return message

        self._run_command(f"Queue {queue}", toggle)

    # -- quitting --------------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Graceful: the drain dialog lets in-flight jobs finish, then exits. Again: stop now."""
        if not self.started:
            self.exit()  # the caller finishes the start and stops the engine at once
            return
        if self.draining is not None:
            self.draining.action_force()
            return
        if not self.tickr.has_pool:
            self.exit()
            return
        self.draining = DrainScreen(self.tickr)
        self.refresh_bindings()
        await self.push_screen(self.draining)
