"""A record reported written survives a power cut: after the rename, the folder itself is synced."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_the_folder_is_opened_for_sync_after_each_replace(tmp_path):
    """Watched through Python's audit events (a real process, nothing patched): the rename, then an open
    of the folder (the fsync that follows it is not audited, so the folder's open is what we can see)."""
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from artfarm.fsio import atomic_stream, atomic_write_json
        events = []
        folder = Path({str(tmp_path)!r}) / "stage"
        folder.mkdir()
        def hook(name, args):
            if name == "os.rename" or (name == "open" and args and str(args[0]) == str(folder)):
                events.append(name)
        sys.addaudithook(hook)
        atomic_write_json(folder / "stage.json", {{"a": 1}})
        with atomic_stream(folder / "big.bin") as fh:
            fh.write(b"x")
        print(events)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(["os.rename", "open", "os.rename", "open"])
