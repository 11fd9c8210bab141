"""measure_cohort advances a caller's progress bar (one display for agree report)."""

from __future__ import annotations

from agreement.measures.cohort import measure_cohort


class RecordingBar:
    """The part of tqdm's interface that measure_cohort uses."""

    def __init__(self, total: int) -> None:
        self.total, self.n, self.closed = total, 0, False

    def update(self, n: int = 1) -> None:
        self.n += n

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_caller_bar_grows_by_the_cases_and_stays_open(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("a", "b", "c"), methods=("unet", "segresnet"))
    bar = RecordingBar(total=5)
    res = measure_cohort(paths["pred"], paths["ref"], paths["pet"], workers=1, progress=bar)
    assert len(res.cases) == 6
    assert bar.total == 5 + 3  # one step per case (all methods of a case together)
    assert bar.n == 3
    assert not bar.closed  # the caller closes its own bar
