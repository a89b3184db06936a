"""A killed writer never leaves a model missing or temporary files behind for good."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from trendcast.data.io import atomic_folder, atomic_write, recover_folder, remove_leftovers


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def folder(path, text: str):
    path.mkdir()
    (path / "state.json").write_text(text)
    return path


@pytest.mark.parametrize("left", [("ready", "old"), ("old",)])
def test_a_replacement_killed_between_its_renames_is_finished_or_undone(tmp_path, left):
    pid = dead_pid()
    for kind in left:
        folder(tmp_path / f".model-{kind}-{pid}-abc", kind)
    recover_folder(tmp_path / "model")
    assert (tmp_path / "model" / "state.json").read_text() == left[0]  # the new one, if done
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_leftovers_of_dead_processes_go_and_those_of_live_ones_stay(tmp_path):
    dead, live = dead_pid(), os.getppid()
    folder(tmp_path / "model", "current")
    folder(tmp_path / f".model-new-{dead}-a", "half")
    folder(tmp_path / f".model-old-{live}-b", "busy")
    (tmp_path / f".sales.csv.{dead}.x1.tmp").write_text("half")
    (tmp_path / f".sales.csv.{live}.x2.tmp").write_text("busy")
    (tmp_path / ".hidden-user-file").write_text("not ours")
    assert remove_leftovers(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["model", f".model-old-{live}-b", f".sales.csv.{live}.x2.tmp", ".hidden-user-file"]
    )
    atomic_write(tmp_path / "sales.csv", lambda tmp: tmp.write_text("new"))
    assert (tmp_path / "model" / "state.json").read_text() == "current"


def test_a_writer_killed_at_any_moment_leaves_a_complete_folder(tmp_path):
    # A process replaces the folder again and again; killed at random moments, the folder
    # (after recovery) is always one complete version, and nothing else is left.
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from trendcast.data.io import atomic_folder
        version = 0
        def write(folder):
            for part in range(20):
                (folder / f"part{{part}}").write_text(str(version) * 1000)
        print("ready", flush=True)
        while True:
            version += 1
            atomic_folder(Path({str(tmp_path / "model")!r}), write)
        """
    )
    atomic_folder(tmp_path / "model", lambda f: [(f / f"part{i}").write_text("0" * 1000)
                                                for i in range(20)])  # fmt: skip
    for trial in range(6):
        process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
        assert process.stdout.readline().strip() == b"ready"
        time.sleep(0.05 + 0.07 * trial)
        process.send_signal(signal.SIGKILL)
        process.wait()
        recover_folder(tmp_path / "model")
        parts = {(tmp_path / "model" / f"part{i}").read_text() for i in range(20)}
        assert len(parts) == 1  # every file from the same version
        assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
