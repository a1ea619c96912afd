import textwrap

import pytest


@pytest.fixture
def refused():
    """Call a function that must fail with error_type; return its one-line message."""

    def check(error_type, function, *args, **kwargs) -> str:
        with pytest.raises(error_type) as caught:
            function(*args, **kwargs)
        message = str(caught.value)
        assert message.strip() and "\n" not in message and "\r" not in message, message
        return message

    return check


@pytest.fixture
def write(tmp_path):
    """``write(text, name)``: a sweep file of the dedented text in tmp_path."""

    def write(text: str, name: str = "sweep.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write
