"""The Captioner on real code paths: a random-weight LAION-CLAP checkpoint in its own format, a
fitted C3 bridge or none, an untrained decoder on the tiny LLaMA; bundled clips and bad inputs."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
import torch

from captioning_fixtures import (
    bad_inputs,
    bundled_clips,
    write_bridge,
    write_checkpoint,
    write_decoder,
)
from decoder_fixtures import tiny_config
from diffusion_link.captioning import Captioner, ModelChainError, audio_files
from diffusion_link.captioning.cli import main
from diffusion_link.core.baselines import IdentityBridge
from diffusion_link.data.audio import read_audio
from diffusion_link.decoder.config import DecoderConfig, GenerationSettings
from diffusion_link.decoder.model import CaptionDecoder
from diffusion_link.encoders import GapSimulatorEncoder

pytestmark = pytest.mark.usefixtures("one_torch_thread")

GENERATION = GenerationSettings(max_new_tokens=6, batch_size=4)


@pytest.fixture(scope="module")
def models(tiny_llama, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("captioning_models")
    return {
        "checkpoint": write_checkpoint(root),
        "c3": write_bridge(root / "c3", "c3"),
        "decoder": write_decoder(root / "decoder", tiny_llama, "identity", "zero_shot_none"),
    }


@pytest.fixture(scope="module")
def captioner(models) -> Captioner:
    return Captioner.from_pretrained(
        models["checkpoint"], None, models["decoder"], device="cpu", generation=GENERATION
    )


@pytest.fixture(scope="module")
def clips() -> list[Path]:
    return bundled_clips()[:3]


def test_bad_inputs_get_their_reason_and_the_others_are_still_captioned(captioner, clips, tmp_path):
    bad = bad_inputs(tmp_path)
    inputs = [clips[0], *bad.values(), clips[1], clips[2]]
    captions = captioner.caption(inputs, batch_size=2)
    assert [c.source for c in captions] == [str(p) for p in inputs]
    for caption, words in zip(captions[1:-2], bad, strict=True):
        assert caption.text is None and words in caption.reason, (words, caption.reason)
        assert caption.line() == f"{caption.source}\t[not captioned: {caption.reason}]"
    good = [captions[0], *captions[-2:]]
    assert all(c.reason is None and isinstance(c.text, str) for c in good)
    assert all(c.duration_s > 0.5 for c in good)
    # the bad inputs change nothing for the others: same captions as the good files alone
    assert [c.text for c in captioner.caption(clips)] == [c.text for c in good]


def test_a_waveform_gets_the_caption_of_its_file(captioner, clips):
    waveform = read_audio(clips[0])
    from_file, from_memory = captioner.caption([clips[0], waveform])
    assert from_memory.source == "<waveform 1>" and from_memory.text == from_file.text
    silent = (waveform[0] * 0.0, waveform[1])
    assert "all-silent" in captioner.caption([silent])[0].reason


def test_batch_size_and_seed_do_not_change_the_captions(captioner, clips):
    assert [c.text for c in captioner.caption(clips, batch_size=1)] == [
        c.text for c in captioner.caption(clips, batch_size=3)
    ]


def test_the_table_has_a_row_per_input_and_names_the_models(captioner, clips, models):
    table = captioner.table(captioner.caption([clips[0], models["checkpoint"].parent / "no.wav"]))
    assert list(table.columns[:4]) == ["file", "caption", "duration_s", "reason"]
    assert table["reason"].isna().tolist() == [True, False]
    assert table["encoder"].iloc[0].startswith("random-clap.pt@sha256:")
    assert table["bridge"].iloc[0] == "identity" and table["decoder"].iloc[0] == "zero_shot_none"
    assert table["decoder_folder"].iloc[0] == str(models["decoder"])
    assert table["warning"].str.contains("checkpoint .* was never trained").all()


def test_captions_from_an_untrained_encoder_say_loudly_that_they_mean_nothing(captioner):
    assert captioner.encoder.untrained  # a random-weight checkpoint: no batch was ever seen
    assert captioner.warning.startswith("THESE CAPTIONS ARE MEANINGLESS: the laion_clap")


def test_a_decoder_trained_on_another_bridge_is_a_warning_naming_both(models, caplog):
    with caplog.at_level(logging.WARNING, logger="diffusion_link.captioning"):
        Captioner.from_pretrained(models["checkpoint"], models["c3"], models["decoder"], "cpu")
    assert "trained on the outputs of bridge 'identity', but is given bridge 'c3'" in caplog.text


def test_dimensions_that_do_not_chain_fail_at_start_naming_both_sides(models, tiny_llama, tmp_path):
    bridge_384 = write_bridge(tmp_path / "c3_384", "c3", dim=384)
    with pytest.raises(ModelChainError, match=r"encoder laion_clap .* 512-d .* bridge c3 .* 384-d"):
        Captioner.from_pretrained(models["checkpoint"], bridge_384, models["decoder"], "cpu")
    decoder_16 = write_decoder(tmp_path / "d16", tiny_llama, "c3", "zero_shot_none", dim=16)
    with pytest.raises(ModelChainError, match=r"bridge c3 .* 512-d .* decoder \(zero_shot\) .* 16"):
        Captioner.from_pretrained(models["checkpoint"], models["c3"], decoder_16, "cpu")


def test_folders_are_expanded_to_every_file_in_order(tmp_path):
    bad = bad_inputs(tmp_path / "audio")
    (tmp_path / "audio" / ".hidden.wav").write_bytes(b"x")
    files = audio_files([tmp_path / "audio", tmp_path / "single.wav"])
    on_disk = sorted(p for p in bad.values() if p.exists())
    assert files == [*on_disk, tmp_path / "single.wav"]


def test_the_command_prints_a_line_per_file_and_writes_the_table(models, clips, tmp_path, capsys):
    missing = tmp_path / "missing.wav"
    out = tmp_path / "out" / "captions.csv"
    argv = [str(clips[0]), str(missing), "--decoder", str(models["decoder"])]
    argv += ["--encoder-checkpoint", str(models["checkpoint"]), "--device", "cpu"]
    argv += ["--out", str(out), "--max-new-tokens", "6"]
    assert main(argv) == 1  # one file could not be captioned
    # (in this process Kedro's rich log handler also writes to stdout: keep the caption lines)
    printed = capsys.readouterr()
    lines = [line for line in printed.out.splitlines() if "\t" in line]
    assert printed.err.splitlines()[-1].startswith("WARNING: THESE CAPTIONS ARE MEANINGLESS")
    assert lines[1] == f"{missing}\t[not captioned: missing: no such file]"
    table = pd.read_csv(out)
    assert table["file"].tolist() == [str(clips[0]), str(missing)]
    assert lines[0] == f"{clips[0]}\t{table['caption'].iloc[0]}"
    assert table["reason"].iloc[1] == "missing: no such file"


def test_a_supervised_decoder_captions_too(captioner, tiny_llama, clips):
    config = DecoderConfig(**{**tiny_config(tiny_llama, dim=512).to_dict(), "mode": "supervised"})
    torch.manual_seed(0)
    decoder = CaptionDecoder.build(config)
    decoder.trained_on = {"variant": "supervised_none", "bridge": "identity"}
    supervised = Captioner(captioner.encoder, IdentityBridge(512), decoder, GENERATION)
    assert decoder.head.prefix_length == 10 and decoder.config.instruction is None
    assert all(isinstance(c.text, str) for c in supervised.caption(clips[:2]))


def test_an_encoder_that_simulates_audio_is_refused(captioner):
    simulator = GapSimulatorEncoder()  # the packaged all-MiniLM-L6-v2
    with pytest.raises(ValueError, match="gap_simulator encoder simulates audio"):
        Captioner(simulator, captioner.bridge, captioner.decoder)
