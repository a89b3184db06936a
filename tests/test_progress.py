from trendcast import _progress
from trendcast._progress import progress_bar


def test_a_bar_inside_a_bar_is_a_line_of_the_same_display():
    # rich allows one live display: a second one opened inside would raise.
    with progress_bar(2, "fit") as outer:
        with progress_bar(3, "epochs") as inner:
            inner("epoch 1")
            (display,) = _progress._active
            assert [t.description for t in display.tasks] == ["fit", "epochs"]
            assert display.tasks[1].completed == 1
        assert [t.description for t in display.tasks] == ["fit"]
        outer("LSTM")
    assert not _progress._active
    with progress_bar(1, "off", enabled=False) as silent:
        silent()
        assert not _progress._active


def test_the_forecaster_turns_on_its_models_own_bars():
    from trendcast import Forecaster
    from trendcast.models import LSTM, Naive

    templates = Forecaster([LSTM(), Naive()], progress=True)._templates("D")
    assert templates[0].progress is True
    assert Forecaster([LSTM()])._templates("D")[0].progress is False
