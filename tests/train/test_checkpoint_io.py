"""pixelsense.train.checkpoint_io: checkpoints written beside the training, whole, in order, never at the cost of
the file they replace."""

from __future__ import annotations

import contextvars
import errno
import threading
from collections import OrderedDict
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

from pixelsense.train.checkpoint_io import (
    MAX_PENDING,
    CheckpointWriter,
    in_background,
    snapshot,
    wait_for_writes,
)


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture
def background():
    """Saves and removals made as fit.py's checkpoint callback makes them: through the writer's thread."""
    with in_background():
        yield


@pytest.fixture
def hold():
    """``hold(writer)`` keeps the writer's thread busy until the returned event is set (the jobs queued
    meanwhile wait); every hold is let go when the test ends, passed or failed."""
    events: list[threading.Event] = []

    def held(writer: CheckpointWriter) -> threading.Event:
        events.append(threading.Event())
        writer._queue(events[-1].wait)
        return events[-1]

    yield held
    for event in events:
        event.set()


def test_a_checkpoint_is_what_the_weights_were_when_it_was_saved(tmp_path, hold, background):
    writer, weights = CheckpointWriter(), torch.zeros(3)
    go = hold(writer)
    writer.save_checkpoint({"state_dict": {"w": weights}}, tmp_path / "a.ckpt")
    weights += 1  # the training goes on before the write
    assert not (tmp_path / "a.ckpt").exists()  # proof that the write had not happened yet
    go.set()
    writer.teardown()
    assert _load(tmp_path / "a.ckpt")["state_dict"]["w"].tolist() == [0, 0, 0]


def test_the_old_best_goes_only_once_the_new_one_is_whole_on_disk(tmp_path, hold, background):
    old, new = tmp_path / "best-epoch00.ckpt", tmp_path / "best-epoch01.ckpt"
    writer = CheckpointWriter()
    writer.save_checkpoint({"epoch": 0}, old)
    writer.wait()
    go = hold(writer)
    writer.save_checkpoint({"epoch": 1}, new)
    writer.remove_checkpoint(old)  # as ModelCheckpoint does right after saving the better one
    assert old.exists() and not new.exists()  # a kill now would leave the old best
    go.set()
    writer.wait()
    assert not old.exists() and _load(new)["epoch"] == 1


def test_a_failed_write_keeps_the_old_best_and_is_raised_once_in_the_callers_thread(
    tmp_path, monkeypatch, background
):
    old, new = tmp_path / "best-epoch00.ckpt", tmp_path / "best-epoch01.ckpt"
    writer = CheckpointWriter()
    writer.save_checkpoint({"epoch": 0}, old)
    writer.wait()

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    writer.save_checkpoint({"epoch": 1}, new)
    writer.remove_checkpoint(old)
    writer.save_checkpoint({"epoch": 1}, tmp_path / "last.ckpt")
    writer.wait()
    assert old.exists() and _load(old)["epoch"] == 0  # kept: its replacement never came
    assert sorted(p.name for p in tmp_path.iterdir()) == [old.name]  # and no partial files
    with pytest.raises(OSError) as caught:
        writer.save_checkpoint({"epoch": 2}, tmp_path / "last.ckpt")  # the next checkpoint says so
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(new)  # the real name
    writer.teardown()  # already raised: not again
    monkeypatch.undo()
    writer.save_checkpoint({"epoch": 3}, new)  # a new fit writes afresh
    writer.teardown()
    assert _load(new)["epoch"] == 3


def test_a_failure_not_raised_yet_comes_out_of_teardown_once(tmp_path, background):
    (tmp_path / "a-file").write_text("in the way")
    writer = CheckpointWriter()
    writer.save_checkpoint({"epoch": 0}, tmp_path / "a-file" / "x.ckpt")  # its folder would be a file
    with pytest.raises(OSError):
        writer.teardown()
    writer.teardown()  # raised once


def test_a_load_waits_for_the_writes_queued_before_it(tmp_path, hold, background):
    writer = CheckpointWriter()
    go = hold(writer)
    writer.save_checkpoint({"epoch": 7}, tmp_path / "last.ckpt")
    threading.Timer(0.2, go.set).start()
    assert writer.load_checkpoint(tmp_path / "last.ckpt")["epoch"] == 7
    writer.teardown()


class Point(NamedTuple):
    at: torch.Tensor
    label: str


def test_a_snapshot_copies_every_tensor_and_keeps_a_state_dicts_metadata():
    net = torch.nn.BatchNorm1d(3)
    state = net.state_dict()
    checkpoint = {"state_dict": state, "optimizer_states": [{"state": {0: {"step": torch.tensor(5.0)}}}],
                  "pair": (torch.ones(1), 2), "name": "x", "point": Point(torch.ones(2), "y")}  # fmt: skip
    copied = snapshot(checkpoint)
    assert type(copied["state_dict"]) is OrderedDict and copied["state_dict"]._metadata == state._metadata
    for original, copy in [(state["weight"], copied["state_dict"]["weight"]),
                           (checkpoint["optimizer_states"][0]["state"][0]["step"],
                            copied["optimizer_states"][0]["state"][0]["step"]),
                           (checkpoint["pair"][0], copied["pair"][0])]:  # fmt: skip
        assert torch.equal(original, copy) and original.data_ptr() != copy.data_ptr()
    assert copied["pair"][1] == 2 and copied["name"] == "x"
    assert type(copied["point"]) is Point and copied["point"].label == "y"
    assert copied["point"].at.data_ptr() != checkpoint["point"].at.data_ptr()


def test_a_save_made_outside_the_callback_is_on_disk_when_it_returns_and_fails_there(tmp_path, hold):
    writer = CheckpointWriter()
    go = hold(writer)
    with in_background():
        writer.save_checkpoint({"epoch": 1}, tmp_path / "queued.ckpt")
    threading.Timer(0.2, go.set).start()
    writer.save_checkpoint({"epoch": 2}, tmp_path / "mine.ckpt")  # as a user's trainer.save_checkpoint
    assert _load(tmp_path / "queued.ckpt")["epoch"] == 1 and _load(tmp_path / "mine.ckpt")["epoch"] == 2
    (tmp_path / "a-file").write_text("in the way")
    with pytest.raises(OSError):
        writer.save_checkpoint({"epoch": 3}, tmp_path / "a-file" / "x.ckpt")
    writer.teardown()


def test_at_most_max_pending_copies_wait_for_the_writer(tmp_path, hold, background):
    writer = CheckpointWriter()
    go = hold(writer)
    for n in range(MAX_PENDING):
        writer.save_checkpoint({"n": n}, tmp_path / f"{n}.ckpt")  # queued at once
    save = contextvars.copy_context().run  # in this test's context: a background save
    late = threading.Thread(target=save, args=(writer.save_checkpoint, {"n": 9}, tmp_path / "9.ckpt"))
    late.start()
    late.join(0.3)
    assert late.is_alive()  # the next copy waits for room in the queue
    go.set()
    late.join(5)
    writer.teardown()
    assert not late.is_alive() and _load(tmp_path / "9.ckpt")["n"] == 9


def test_teardown_over_another_error_leaves_that_error_alone(tmp_path, background):
    (tmp_path / "a-file").write_text("in the way")
    writer = CheckpointWriter()
    writer.save_checkpoint({"epoch": 0}, tmp_path / "a-file" / "x.ckpt")
    try:
        raise KeyError("the error on its way out")
    except KeyError:
        writer.teardown()  # as Lightning tears down while handling it: no second error over the first
    writer.teardown()  # and the failure is not kept for later


def test_wait_for_writes_waits_for_the_trainers_writer_and_ignores_others(tmp_path, hold, background):
    from types import SimpleNamespace

    writer = CheckpointWriter()
    go = hold(writer)
    writer.save_checkpoint({"epoch": 4}, tmp_path / "last.ckpt")
    threading.Timer(0.2, go.set).start()
    wait_for_writes(SimpleNamespace(strategy=SimpleNamespace(checkpoint_io=writer)))
    assert _load(tmp_path / "last.ckpt")["epoch"] == 4
    wait_for_writes(SimpleNamespace(strategy=SimpleNamespace(checkpoint_io=object())))
    writer.teardown()


def test_an_improving_epoch_queues_its_best_removal_and_last_without_waiting(tmp_path, hold, background):
    writer = CheckpointWriter()
    writer.save_checkpoint({"epoch": 0}, tmp_path / "best-epoch00.ckpt")
    writer.wait()
    go = hold(writer)  # the writer is busy: what the epoch's end queues must not wait for it

    def epoch_end() -> None:
        writer.save_checkpoint({"epoch": 1}, tmp_path / "best-epoch01.ckpt")
        writer.remove_checkpoint(tmp_path / "best-epoch00.ckpt")
        writer.save_checkpoint({"epoch": 1}, tmp_path / "last.ckpt")

    queued = threading.Thread(target=contextvars.copy_context().run, args=(epoch_end,))
    queued.start()
    queued.join(5)
    assert not queued.is_alive()  # all three queued while the writer was busy
    go.set()
    writer.teardown()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best-epoch01.ckpt", "last.ckpt"]


def test_a_save_outside_the_callback_raises_a_queued_write_that_failed_before_it(tmp_path, hold):
    (tmp_path / "a-file").write_text("in the way")
    writer = CheckpointWriter()
    go = hold(writer)
    with in_background():
        writer.save_checkpoint({"epoch": 1}, tmp_path / "a-file" / "x.ckpt")  # will fail
    threading.Timer(0.2, go.set).start()
    with pytest.raises(OSError):
        writer.save_checkpoint({"epoch": 2}, tmp_path / "mine.ckpt")  # waits for it, then says so
    assert not (tmp_path / "mine.ckpt").exists()
    writer.teardown()
