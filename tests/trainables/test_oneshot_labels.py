"""Drum-type labels from file names and folder names, and the label counts a user is shown."""

import pytest

from trainables.oneshot_labels import DRUM_TYPES, drum_label, label_counts, name_label, words


@pytest.mark.parametrize(
    "path, label",
    [
        # file names (the examples and hydrogen-data's own)
        ("808_Snare_1.flac", "snare"),
        ("Kick-Hard.wav", "bass_drum"),
        ("HH_closed.aif", "hi_hat"),
        ("TR808EmulationKit/808_Kick_Long.flac", "bass_drum"),
        ("GMRockKit/HatClosed-Hard.wav", "hi_hat"),
        ("x/HiHatFoot-0.wav", "hi_hat"),
        ("x/PearlKick-Soft.wav", "bass_drum"),
        ("x/bd1.flac", "bass_drum"),
        ("x/BD_01.aiff", "bass_drum"),
        ("x/sd_03.flac", "snare"),
        ("x/tom-hi-1.flac", "tom"),
        ("x/floortom_01.flac", "tom"),
        ("x/bassdrum-4mics-br-stereo-normal3.flac", "bass_drum"),
        ("x/closehihat3.flac", "hi_hat"),
        ("x/Crash18-0.wav", "cymbal"),
        ("x/crash16i__ride2.flac", "cymbal"),
        ("x/EE_Clap_Hard.flac", "clap"),
        ("x/PearlSnareRimshot-Hard.wav", "snare"),
        ("x/rs_01.flac", "rim"),
        ("x/Cowbell-Med.wav", "cowbell"),
        ("x/808_Conga.flac", "percussion"),
        ("x/Djembe1 Bass.wav", "percussion"),
        # folder names, innermost first, when the file name has no keyword
        ("BD/a.wav", "bass_drum"),
        ("Roland TR-808/Kicks/x.wav", "bass_drum"),
        ("808 Kick/a.wav", "bass_drum"),
        ("Bass Drum/a.wav", "bass_drum"),
        ("SD/a.wav", "snare"),
        ("Snares/long/a.wav", "snare"),
        ("Toms/a.wav", "tom"),
        ("LT/a.wav", "tom"),
        ("Hi-Hats/Open/a.wav", "hi_hat"),
        ("CH/a.wav", "hi_hat"),
        ("Claps/a.wav", "clap"),
        ("Kicks/808_Snare_1.wav", "snare"),  # the file name wins
        # nothing to go by
        ("a.wav", None),
        ("GMRockKit/Bell-Hard.wav", None),
        ("rumpf_kit_z01_h2/beats_01-10.flac", None),
    ],
)
def test_labels_from_file_and_folder_names(path, label):
    assert drum_label(path) == label


def test_words_split_case_digits_and_punctuation():
    assert words("808_HatClosed-Hard") == ["808", "hat", "closed", "hard"]
    assert words("TR808EmulationKit") == ["tr", "808", "emulation", "kit"]
    assert words("HH2_01") == ["hh", "2", "01"]
    assert name_label("Hi Hat") == "hi_hat" and name_label("Low Tom") == "tom" and name_label("Kit") is None


def test_label_counts_order_paper_types_first_unlabelled_last():
    labels = ["tom", None, "cymbal", "snare", "tom", "zzz", "bass_drum", None]
    assert list(label_counts(labels).items()) == [
        ("bass_drum", 1),
        ("snare", 1),
        ("tom", 2),
        ("cymbal", 1),
        ("zzz", 1),
        ("(unlabelled)", 2),
    ]
    assert set(DRUM_TYPES) == {"bass_drum", "snare", "tom", "hi_hat"}
    assert label_counts([]) == {}
