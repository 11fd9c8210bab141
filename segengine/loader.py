"""One DataLoader per run whose randomness depends only on (seed, epoch, rank, position).

The sampler draws, in the main process, each epoch's order of cases and one seed per sample;
the dataset reseeds its random transforms with that seed before transforming the sample. So
the patches and augmentations of an epoch are the same with 0 or 8 worker processes, with
persistent workers (which keep their state between epochs) and after a resume.

Examples
--------
>>> from segengine.loader import SeededSampler
>>> s = SeededSampler(4, seed=0)
>>> s.set_epoch(1)
>>> sorted(i for i, _ in s)
[0, 1, 2, 3]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

__all__ = ["NodeCacheDataset", "SeededDataset", "SeededSampler", "default_workers", "make_loader"]


def default_workers(device_type: str = "cuda", *, processes: int = 1) -> int:
    """Loader workers per process: the CPUs this process may use (cgroup quota and affinity,
    via joblib) shared by ``processes`` ranks, one left for the main process, at most 8.

    On CPU training, where the workers compete with the network for the same cores, at most 2.

    Examples
    --------
    >>> 0 <= default_workers("cpu") <= 2
    True
    """
    import joblib

    cpus = max(1, int(joblib.cpu_count()) // max(processes, 1))
    cap = 8 if device_type == "cuda" else 2
    return max(0, min(cap, cpus - 1))


class SeededSampler(Sampler):
    """Shuffled case indices with one transform seed each, split over ``world`` ranks.

    An epoch is ``samples`` draws per rank (default: one pass over the cases, padded by
    wrapping as ``DistributedSampler`` does), taken from successive permutations of the cases
    drawn from ``(seed, epoch)``; every rank draws the same sequence and takes every
    ``world``-th entry from ``rank``. The sample seeds come from ``(seed, epoch, position)``.
    """

    def __init__(
        self, n: int, *, seed: int, rank: int = 0, world: int = 1, samples: int | None = None
    ) -> None:
        self.n, self.seed, self.rank, self.world = n, seed, rank, world
        self.samples = -(-n // world) if samples is None else samples
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order and seeds the next iteration yields."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.samples if self.n else 0

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if not self.n:
            return iter(())
        ss = np.random.SeedSequence([self.seed, self.epoch, 0xA5])
        rng = np.random.default_rng(ss)
        total = self.samples * self.world
        order = np.concatenate([rng.permutation(self.n) for _ in range(-(-total // self.n))])
        seeds = ss.spawn(1)[0].generate_state(total)
        pick = range(self.rank, total, self.world)
        return iter([(int(order[i]), int(seeds[i])) for i in pick])


class SeededDataset(Dataset):
    """Wrap a MONAI dataset: item ``(index, seed)`` reseeds its transforms, then reads ``index``."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, int]) -> Any:
        index, seed = item
        transform = getattr(self.dataset, "transform", None)
        if hasattr(transform, "set_random_state"):
            transform.set_random_state(seed=seed)
        return self.dataset[index]


class NodeCacheDataset(Dataset):
    """A memory cache kept once per node: the deterministic part of ``transform`` is computed
    by one process per node (``writer``) into ``cache_dir`` and every process memory-maps it.

    Under ``torchrun`` each rank's ``CacheDataset`` holds its own copy of the cohort (~0.16 GB
    per whole-body case per rank). Here the preprocessed cases are torch files (names hash the
    case and the deterministic transforms, as ``PersistentDataset``'s) loaded with
    ``mmap=True``: their pages live once in the node's page cache, shared by the ranks and
    their loader workers. Items are the same as ``CacheDataset``'s with the same seeds.

    Parameters
    ----------
    files : sequence of dict
        File dictionaries (:func:`segengine.data.io.datalist`).
    transform : monai.transforms.Compose
        The whole pipeline; everything before its first random transform is cached.
    cache_dir : path
        Folder for the cache files (on a node-local or shared file system).
    writer : bool
        This process writes missing cache files (local rank 0).
    barrier : callable
        Called after writing, before reading (the process group's barrier).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from monai.transforms import Compose, ScaleIntensityRanged
    >>> scale = ScaleIntensityRanged("x", a_min=0.0, a_max=2.0, b_min=0.0, b_max=1.0)
    >>> ds = NodeCacheDataset([{"x": np.ones((1, 2, 2))}], Compose([scale]), tempfile.mkdtemp())
    >>> float(ds[0]["x"].max())
    0.5
    """

    def __init__(
        self,
        files: Sequence[dict],
        transform: Any,
        cache_dir: str | os.PathLike[str],
        *,
        writer: bool = True,
        barrier: Callable[[], None] = lambda: None,
    ) -> None:
        from monai.data.utils import pickle_hashing
        from monai.transforms import Compose, RandomizableTrait, Transform

        from agreement.atomic import atomic_path
        from segengine.data.transforms import _hash_transforms

        steps = list(transform.transforms)
        first = transform.get_index_of_first(
            lambda t: isinstance(t, RandomizableTrait) or not isinstance(t, Transform)
        )
        first = len(steps) if first is None else first
        pre, self.transform = Compose(steps[:first]), Compose(steps[first:])
        tag = _hash_transforms(steps[:first]).decode()[:16]
        cache_dir = Path(cache_dir)
        paths = [cache_dir / f"{pickle_hashing(f).decode()}-{tag}.pt" for f in files]
        if writer:
            cache_dir.mkdir(parents=True, exist_ok=True)
            for f, path in zip(files, paths, strict=True):
                if not path.is_file():
                    with atomic_path(path) as tmp:
                        torch.save(pre(dict(f)), tmp)
        barrier()
        self.items = [torch.load(p, mmap=True, weights_only=False) for p in paths]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Any:
        return self.transform(dict(self.items[index]))  # the random steps only read the volume


def make_loader(
    dataset: Any,
    *,
    batch_size: int,
    seed: int,
    num_workers: int = 0,
    rank: int = 0,
    world: int = 1,
    pin_memory: bool = False,
    samples: int | None = None,
) -> tuple[Any, SeededSampler]:
    """The run's single DataLoader (persistent workers when there are any) and its sampler.

    Call ``sampler.set_epoch(epoch)`` before each epoch's iteration; ``samples`` is the
    number of samples per rank and epoch (default: one pass over ``dataset``).

    Examples
    --------
    >>> from monai.data import Dataset
    >>> loader, sampler = make_loader(Dataset([{"x": 1}, {"x": 2}]), batch_size=2, seed=0)
    >>> sampler.set_epoch(0)
    >>> [sorted(b["x"].tolist()) for b in loader]
    [[1, 2]]
    """
    from monai.data import DataLoader

    sampler = SeededSampler(len(dataset), seed=seed, rank=rank, world=world, samples=samples)
    loader = DataLoader(
        SeededDataset(dataset),
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
        prefetch_factor=4 if num_workers > 0 else None,
        drop_last=False,
        # workers need no extra seeding: every sample reseeds the transforms
        worker_init_fn=_no_seed,
        multiprocessing_context="fork" if num_workers > 0 and os.name == "posix" else None,
    )
    return loader, sampler


def _no_seed(worker_id: int) -> None:
    torch.set_num_threads(1)  # workers run NumPy/MONAI ops; keep them off the main threads
