"""Simulated learners: N learners writing Czech sentences at an aggregate rate for a while."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# What beginners write: greetings, small talk, typical mistakes, and some without diacritics.
CZECH_PHRASES = (
    "Dobrý den!",
    "Dobry den",
    "Ahoj, jak se máš?",
    "ahoj jak se mas",
    "Děkuji moc.",
    "dekuji moc",
    "Jmenuji se Olga a jsem z Kyjeva.",
    "Jmenuju se Ivan, bydlím v Praze.",
    "Učím se česky teprve dva měsíce.",
    "Ucim se cesky kazdy den",
    "Včera jsem byl v obchodě a koupil jsem chleba.",
    "Vcera jsem byla v kine.",
    "Můžete mi prosím pomoct?",
    "Kde je nádraží?",
    "Kolik to stojí?",
    "Mám rád českou kuchyni, hlavně svíčkovou.",
    "Mam rad pivo a knedliky",
    "Zítra půjdu do práce autobusem.",
    "Nerozumím, můžete to zopakovat?",
    "Prosim, jedno kafe s mlekem.",
    "Čeština je těžká, ale krásná.",
    "Moje sestra studuje na univerzitě v Brně.",
    "Dnes je hezké počasí.",
    "Dobrou noc!",
    "Na shledanou",
    "Já jsem student.",
    "Já bydlet v Praha.",
    "Já mít dva bratr.",
)
FIRST_NAMES = ("Olga", "Ivan", "Oksana", "Dmytro", "Anna", "Serhii", "Mariia", "Alexei", "Iryna", "Pavlo")

Clock = Callable[[], float]
CreateLearner = Callable[[int, str, str, str], Any]  # (user_id, first_name, username, language_code)
WriteText = Callable[[int, str], Any]  # (user_id, text)


@dataclass
class SimulationStatus:
    running: bool
    learners: int
    rate: float
    seconds: float | None
    base_id: int
    sent: int
    started_at: float | None
    finished_at: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "learners": self.learners,
            "rate": self.rate,
            "seconds": self.seconds,
            "base_id": self.base_id,
            "sent": self.sent,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


def learner_profile(index: int) -> tuple[str, str, str]:
    """(first_name, username, language_code) of the index-th simulated learner: alternately ru and uk."""
    first_name = FIRST_NAMES[index % len(FIRST_NAMES)]
    return first_name, f"{first_name.lower()}_{index}", "uk" if index % 2 else "ru"


class Simulator:
    """Creates learners base_id .. base_id+N-1, then writes one phrase every 1/rate s (aggregate) from a
    random learner until `seconds` pass (or forever when None) or `stop()` is called."""

    def __init__(
        self,
        create_learner: CreateLearner,
        write_text: WriteText,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        self._create_learner = create_learner
        self._write_text = write_text
        self._clock = clock
        self._wall_clock = wall_clock
        self._task: asyncio.Task[None] | None = None
        self._status = SimulationStatus(False, 0, 0.0, None, 0, 0, None, None)

    @property
    def status(self) -> SimulationStatus:
        return self._status

    def create_learners(self, count: int, base_id: int) -> list[int]:
        ids = []
        for index in range(count):
            first_name, username, language_code = learner_profile(index)
            self._create_learner(base_id + index, first_name, username, language_code)
            ids.append(base_id + index)
        return ids

    def start(
        self, learners: int, rate: float, seconds: float | None, *, base_id: int = 700_000_000, seed: int = 0
    ) -> SimulationStatus:
        if learners < 1 or rate <= 0:
            raise ValueError("learners must be at least 1 and rate above 0")
        self.stop()
        ids = self.create_learners(learners, base_id)
        self._status = SimulationStatus(True, learners, rate, seconds, base_id, 0, self._wall_clock(), None)
        self._task = asyncio.get_running_loop().create_task(
            self._run(ids, rate, seconds, random.Random(seed)), name="sandbox-simulation"
        )
        return self._status

    def stop(self) -> SimulationStatus:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._finish()
        return self._status

    async def close(self) -> None:
        task = self._task
        self.stop()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _finish(self) -> None:
        if self._status.running:
            self._status.running = False
            self._status.finished_at = self._wall_clock()

    async def _run(self, ids: list[int], rate: float, seconds: float | None, chooser: random.Random) -> None:
        start = self._clock()
        interval = 1.0 / rate
        # Counted, not compared as times: start + n * interval loses the last digits on a large clock.
        total = None if seconds is None else math.ceil(seconds * rate - 1e-9)
        index = 0
        try:
            while total is None or index < total:
                due = start + index * interval  # absolute schedule: no drift from slow iterations
                delay = due - self._clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                self._write_text(chooser.choice(ids), chooser.choice(CZECH_PHRASES))
                self._status.sent += 1
                index += 1
        finally:
            self._finish()
