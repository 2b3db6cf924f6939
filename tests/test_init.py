import subprocess
import sys

import textcnn


def test_public_api_resolves():
    for name in textcnn.__all__:
        assert getattr(textcnn, name) is not None
    from textcnn import PRESETS, TextCNNClassifier

    assert TextCNNClassifier().get_params()["variant"] == "non-static" and "multichannel" in PRESETS


def test_unknown_attribute_is_an_attribute_error():
    try:
        textcnn.nope  # noqa: B018
    except AttributeError as err:
        assert "nope" in str(err)
    else:
        raise AssertionError("expected AttributeError")


def test_cli_help_does_not_import_torch():
    code = "import sys; from textcnn.cli import main; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
