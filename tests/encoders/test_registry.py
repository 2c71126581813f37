"""The encoder registry: one list of names, each back-end answering how it makes audio."""

from typing import get_args

from diffusion_link.encoders import ENCODERS, EncoderName, GapSimulatorEncoder, LaionClapEncoder


def test_names_come_from_the_registry_default_first():
    assert get_args(EncoderName) == tuple(ENCODERS) == ("gap_simulator", "laion_clap")
    assert ENCODERS["gap_simulator"] is GapSimulatorEncoder
    assert ENCODERS["laion_clap"] is LaionClapEncoder


def test_each_back_end_says_whether_its_audio_is_simulated():
    assert {name: backend.simulated_audio for name, backend in ENCODERS.items()} == {
        "gap_simulator": True,
        "laion_clap": False,
    }
    for name, backend in ENCODERS.items():
        assert backend.name == name and callable(backend.from_params)
