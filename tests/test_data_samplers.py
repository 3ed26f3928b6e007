"""CrossModalityIdentitySampler: batch layouts, epoch lengths, DDP splitting, determinism, errors.

Layouts are checked as properties over random small datasets (random numbers of visible and
infrared images per identity, samples in shuffled order) against the algorithms of protocols
spec §5.3 (agw_pk), mcja spec §6.3 (pk_any) and idkl spec §8.2 (idkl_random).
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, Dataset

from vireid.data.sample import INFRARED, VISIBLE, Sample
from vireid.data.samplers import CrossModalityIdentitySampler

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_samples(counts, shuffle_seed=0):
    """Samples for identities with (n_visible, n_infrared) images each, in shuffled order."""
    samples = []
    for label, (n_vis, n_ir) in enumerate(counts):
        for modality, n in ((VISIBLE, n_vis), (INFRARED, n_ir)):
            cam = 1 if modality == VISIBLE else 3
            for j in range(n):
                path = Path(f"/data/{label:04d}/{modality}_{j}.jpg")
                samples.append(
                    Sample(path, pid=100 + label, cam=cam, modality=modality, label=label)
                )
    random.Random(shuffle_seed).shuffle(samples)
    return samples


def sampler_for(counts, variant, p, k, **kwargs):
    return CrossModalityIdentitySampler(
        make_samples(counts), ids_per_batch=p, num_instances=k, variant=variant, **kwargs
    )


def chunked(batch, size):
    return [batch[i : i + size] for i in range(0, len(batch), size)]


def group_label(samples, group):
    labels = {samples[i].label for i in group}
    assert len(labels) == 1, f"group mixes identities {labels}"
    return labels.pop()


def pk_chunks(n, k):
    return 1 if n < k else n // k


def idkl_chunks(n_vis, n_ir, k):
    half = k // 2
    if n_vis < half and n_ir < half:
        return 1
    return min(n_vis, n_ir) // half


# Random datasets: per identity 1..9 visible and 1..9 infrared images, 1..12 identities.
both_modalities = st.lists(st.tuples(st.integers(1, 9), st.integers(1, 9)), min_size=1, max_size=12)
any_modality = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 9)).filter(lambda c: c[0] + c[1] > 0),
    min_size=1,
    max_size=12,
)


# ---------------------------------------------------------------------------------------- agw_pk


@PROPERTY
@given(counts=both_modalities, data=st.data())
def test_agw_pk_layout(counts, data):
    p = data.draw(st.integers(1, len(counts)), label="P")
    k = data.draw(st.integers(1, 4), label="K")
    samples = make_samples(counts, data.draw(st.integers(0, 1000)))
    sampler = CrossModalityIdentitySampler(samples, p, k, "agw_pk", seed=data.draw(st.integers(0)))
    batches = list(sampler)
    n_max = max(sum(c[0] for c in counts), sum(c[1] for c in counts))
    assert len(batches) == len(sampler) == n_max // (p * k) + 1
    for batch in batches:
        assert len(batch) == 2 * p * k == sampler.batch_size
        vis, ir = batch[: p * k], batch[p * k :]
        assert all(samples[i].modality == VISIBLE for i in vis)
        assert all(samples[i].modality == INFRARED for i in ir)
        vis_labels = [group_label(samples, g) for g in chunked(vis, k)]
        ir_labels = [group_label(samples, g) for g in chunked(ir, k)]
        assert vis_labels == ir_labels
        assert len(set(vis_labels)) == p


def test_agw_pk_epoch_length_formula():
    # 10 identities, 7 visible + 3 infrared each: N = max(70, 30) = 70.
    counts = [(7, 3)] * 10
    assert len(sampler_for(counts, "agw_pk", 2, 4)) == 70 // 8 + 1 == 9
    assert len(sampler_for(counts, "agw_pk", 8, 4)) == 70 // 32 + 1 == 3
    # Infrared is the larger modality here.
    assert len(sampler_for([(3, 7)] * 10, "agw_pk", 2, 4)) == 9
    # Divisible case still adds one batch, as in AGW.
    assert len(sampler_for([(8, 8)] * 4, "agw_pk", 2, 4)) == 32 // 8 + 1 == 5
    # SYSU-MM01 sizes from the spec: floor(22258 / 32) + 1 = 696.
    assert 22258 // 32 + 1 == 696
    # With replicas, each rank gets N // (P*K*R) + 1 batches.
    assert len(sampler_for(counts, "agw_pk", 2, 4, num_replicas=2, rank=1)) == 70 // 16 + 1


def test_agw_pk_draws_with_replacement_from_small_identities():
    # One image per modality and K=3: every group repeats the same index.
    samples = make_samples([(1, 1)] * 3)
    sampler = CrossModalityIdentitySampler(samples, 2, 3)
    for batch in sampler:
        for group in chunked(batch, 3):
            assert len(set(group)) == 1


# ---------------------------------------------------------------------------------------- pk_any


@PROPERTY
@given(counts=any_modality, data=st.data())
def test_pk_any_layout_and_consumption(counts, data):
    p = data.draw(st.integers(1, len(counts)), label="P")
    k = data.draw(st.integers(1, 5), label="K")
    samples = make_samples(counts, data.draw(st.integers(0, 1000)))
    sampler = CrossModalityIdentitySampler(samples, p, k, "pk_any", seed=data.draw(st.integers(0)))
    batches = list(sampler)
    assert len(batches) == len(sampler) >= 1
    used = Counter()
    seen = Counter()
    for batch in batches:
        assert len(batch) == p * k == sampler.batch_size
        labels = [group_label(samples, g) for g in chunked(batch, k)]
        assert len(set(labels)) == p
        used.update(labels)
        seen.update(batch)
    totals = [n_vis + n_ir for n_vis, n_ir in counts]
    available = [pk_chunks(n, k) for n in totals]
    assert all(used[c] <= available[c] for c in range(len(counts)))
    # The loop stops only when fewer than P identities have chunks left.
    assert sum(used[c] < available[c] for c in range(len(counts))) < p
    # Identities with at least K images are consumed without replacement.
    for i, times in seen.items():
        if totals[samples[i].label] >= k:
            assert times == 1


def test_pk_any_mixes_modalities_and_samples_small_identities_with_replacement():
    # Visible-only and infrared-only identities are fine for pk_any.
    samples = make_samples([(2, 0), (0, 2), (1, 1)])
    sampler = CrossModalityIdentitySampler(samples, 3, 4, "pk_any")
    batches = list(sampler)
    # Each identity has < K images: exactly one with-replacement chunk, so one batch.
    assert len(batches) == 1
    for group in chunked(batches[0], 4):
        assert len(group) == 4 and len(set(group)) <= 2


# ---------------------------------------------------------------------------------- idkl_random


@PROPERTY
@given(counts=both_modalities, data=st.data())
def test_idkl_random_layout_and_consumption(counts, data):
    k = data.draw(st.sampled_from([2, 4, 6]), label="K")
    usable = sum(idkl_chunks(v, i, k) > 0 for v, i in counts)
    if usable == 0:
        with pytest.raises(ValueError, match="can fill a chunk"):
            sampler_for(counts, "idkl_random", 1, k)
        return
    p = data.draw(st.integers(1, usable), label="P")
    samples = make_samples(counts, data.draw(st.integers(0, 1000)))
    sampler = CrossModalityIdentitySampler(
        samples, p, k, "idkl_random", seed=data.draw(st.integers(0))
    )
    batches = list(sampler)
    assert len(batches) == len(sampler) >= 1
    used = Counter()
    seen = Counter()
    for batch in batches:
        assert len(batch) == p * k == sampler.batch_size
        groups = chunked(batch, k)
        labels = [group_label(samples, g) for g in groups]
        assert len(set(labels)) == p
        for group in groups:
            modalities = [samples[i].modality for i in group]
            assert modalities == [INFRARED, VISIBLE] * (k // 2)
        used.update(labels)
        seen.update(batch)
    available = [idkl_chunks(v, i, k) for v, i in counts]
    assert all(used[c] <= available[c] for c in range(len(counts)))
    assert sum(used[c] < available[c] for c in range(len(counts))) < p
    half = k // 2
    for i, times in seen.items():
        n_vis, n_ir = counts[samples[i].label]
        with_replacement = n_vis < half and n_ir < half
        if not with_replacement:
            assert times == 1, f"index {i} repeated without the with-replacement rule"


def test_idkl_random_with_replacement_rule_and_skipped_identities():
    k = 6  # K/2 = 3
    # label 0: both < 3 -> one with-replacement chunk; label 1: 7 and 4 -> cut to 4 -> 1 chunk;
    # label 2: 1 visible, 5 infrared -> cut to 1 -> no chunk; label 3: 6 and 6 -> 2 chunks.
    counts = [(2, 1), (7, 4), (1, 5), (6, 6)]
    samples = make_samples(counts)
    sampler = CrossModalityIdentitySampler(samples, 1, k, "idkl_random")
    batches = list(sampler)
    labels = [samples[b[0]].label for b in batches]
    assert sorted(labels) == [0, 1, 3, 3]
    for batch in batches:
        if samples[batch[0]].label == 0:
            ir = {samples[i].path for i in batch[0::2]}
            vis = {samples[i].path for i in batch[1::2]}
            assert len(ir) == 1 and len(vis) <= 2


# ------------------------------------------------------------------------------- distributed


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    variant=st.sampled_from(["agw_pk", "pk_any", "idkl_random"]),
    replicas=st.sampled_from([2, 3]),
    counts=st.lists(st.tuples(st.integers(2, 9), st.integers(2, 9)), min_size=6, max_size=14),
    data=st.data(),
)
def test_ranks_disjoint_and_equal_length(variant, replicas, counts, data):
    k = 2 if variant == "idkl_random" else data.draw(st.integers(1, 4), label="K")
    p = data.draw(st.integers(1, len(counts) // replicas), label="P")
    seed = data.draw(st.integers(0, 2**32))
    samples = make_samples(counts)
    samplers = [
        CrossModalityIdentitySampler(samples, p, k, variant, seed, num_replicas=replicas, rank=r)
        for r in range(replicas)
    ]
    for epoch in (0, 3):
        for s in samplers:
            s.set_epoch(epoch)
        per_rank = [list(s) for s in samplers]
        lengths = {len(b) for b in per_rank} | {len(s) for s in samplers}
        assert len(lengths) == 1 and lengths.pop() >= 1
        seen = Counter()
        for step in zip(*per_rank, strict=True):
            step_labels = [{samples[i].label for i in batch} for batch in step]
            assert all(len(labels) == p for labels in step_labels)
            assert len(set().union(*step_labels)) == p * replicas
            for batch in step:
                seen.update(batch)
        if variant != "agw_pk":
            # Every identity here has >= K images (>= K/2 per modality for idkl), so nothing is
            # drawn with replacement: each index is in one chunk and each chunk goes to one rank.
            assert max(seen.values()) == 1


def test_replica_one_matches_single_process():
    samples = make_samples([(5, 4)] * 8)
    for variant in ("agw_pk", "pk_any", "idkl_random"):
        single = CrossModalityIdentitySampler(samples, 2, 4, variant, seed=7)
        ddp = CrossModalityIdentitySampler(samples, 2, 4, variant, seed=7, num_replicas=1, rank=0)
        assert list(single) == list(ddp)


def test_defaults_follow_torch_distributed(monkeypatch):
    import vireid.data.samplers as module

    monkeypatch.setattr(module.dist, "is_available", lambda: True)
    monkeypatch.setattr(module.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(module.dist, "get_world_size", lambda: 3)
    monkeypatch.setattr(module.dist, "get_rank", lambda: 2)
    sampler = CrossModalityIdentitySampler(make_samples([(3, 3)] * 9), 2, 2)
    assert (sampler.num_replicas, sampler.rank) == (3, 2)
    explicit = CrossModalityIdentitySampler(
        make_samples([(3, 3)] * 9), 2, 2, num_replicas=2, rank=0
    )
    assert (explicit.num_replicas, explicit.rank) == (2, 0)


def test_defaults_without_process_group():
    sampler = CrossModalityIdentitySampler(make_samples([(3, 3)] * 2), 1, 2)
    assert (sampler.num_replicas, sampler.rank) == (1, 0)


# ------------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("variant", ["agw_pk", "pk_any", "idkl_random"])
def test_deterministic_per_seed_and_epoch(variant):
    samples = make_samples([(9, 8)] * 12)
    a = CrossModalityIdentitySampler(samples, 3, 4, variant, seed=5)
    b = CrossModalityIdentitySampler(samples, 3, 4, variant, seed=5)
    first = list(a)
    assert first == list(b) == list(a)  # same seed & epoch, and re-iteration, agree
    a.set_epoch(1)
    assert a.epoch == 1
    second = list(a)
    assert second != first and len(second) == len(a)
    b.set_epoch(1)
    assert list(b) == second
    a.set_epoch(0)
    assert list(a) == first
    other_seed = CrossModalityIdentitySampler(samples, 3, 4, variant, seed=6)
    assert list(other_seed) != first


@pytest.fixture
def restore_global_rngs():
    # The next test reseeds the global generators on purpose; put them back for other tests.
    saved = np.random.get_state(), torch.get_rng_state(), random.getstate()  # noqa: NPY002
    yield
    np.random.set_state(saved[0])  # noqa: NPY002
    torch.set_rng_state(saved[1])
    random.setstate(saved[2])


def _seed_globals(seed):
    np.random.seed(seed)  # noqa: NPY002
    torch.manual_seed(seed)
    random.seed(seed)


def _global_states():
    return np.random.get_state()[1].copy(), torch.get_rng_state(), random.getstate()  # noqa: NPY002


@pytest.mark.usefixtures("restore_global_rngs")
@pytest.mark.parametrize("variant", ["agw_pk", "pk_any", "idkl_random"])
def test_global_rng_is_neither_read_nor_changed(variant):
    samples = make_samples([(6, 6)] * 6)
    _seed_globals(1)
    np_state, torch_state, py_state = _global_states()
    first = list(CrossModalityIdentitySampler(samples, 2, 4, variant))
    after = _global_states()
    assert np.array_equal(after[0], np_state)
    assert torch.equal(after[1], torch_state)
    assert after[2] == py_state
    _seed_globals(2)
    assert list(CrossModalityIdentitySampler(samples, 2, 4, variant)) == first


@pytest.mark.parametrize("variant", ["agw_pk", "pk_any", "idkl_random"])
def test_len_matches_yielded_over_epochs(variant):
    samples = make_samples([(i % 7 + 2, i % 5 + 2) for i in range(15)])
    sampler = CrossModalityIdentitySampler(samples, 4, 4, variant, seed=3)
    for epoch in range(5):
        sampler.set_epoch(epoch)
        n = len(sampler)
        assert n == sum(1 for _ in sampler) >= 1


# ------------------------------------------------------------------------------------ errors


def _error(match, exc=ValueError, samples=None, **kwargs):
    samples = make_samples([(3, 3)] * 4) if samples is None else samples
    with pytest.raises(exc, match=match):
        CrossModalityIdentitySampler(samples, **kwargs)


def test_error_missing_modality_lists_labels():
    counts = [(3, 3), (3, 0), (3, 3), (3, 0)]
    for variant in ("agw_pk", "idkl_random"):
        _error(r"without infrared images: \[1, 3\]", samples=make_samples(counts), variant=variant)
    _error(r"without visible images: \[0\]", samples=make_samples([(0, 2), (2, 2)]))
    # Long lists are cut.
    many = make_samples([(2, 0)] * 30 + [(2, 2)])
    _error(r"\[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, …\] \(30 in total\)", samples=many)
    # pk_any does not need both modalities.
    CrossModalityIdentitySampler(make_samples(counts), 2, 2, "pk_any")


def test_error_too_many_identities_per_batch():
    _error(
        r"ids_per_batch \* num_replicas = 5 \* 1 = 5 exceeds .* identities \(4\)", ids_per_batch=5
    )
    _error(r"= 2 \* 3 = 6 exceeds", ids_per_batch=2, num_replicas=3, rank=0)
    _error(r"exceeds", ids_per_batch=5, variant="pk_any")
    # K/2 = 2: identities with 1 visible and 3 infrared images give no idkl chunk.
    lopsided = make_samples([(1, 3), (1, 3), (2, 2)])
    _error(
        "only 1 of 3 identities can fill a chunk",
        samples=lopsided,
        ids_per_batch=2,
        num_instances=4,
        variant="idkl_random",
    )


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"ids_per_batch": 0}, ValueError, "ids_per_batch must be a positive int, got 0"),
        ({"num_instances": -1}, ValueError, "num_instances must be a positive int, got -1"),
        ({"ids_per_batch": 2.0}, TypeError, "ids_per_batch must be an int, got float"),
        ({"num_instances": True}, TypeError, "num_instances must be an int, got bool"),
        ({"num_instances": 3, "variant": "idkl_random"}, ValueError, "must be even.*got 3"),
        ({"variant": "agw"}, ValueError, "variant must be one of .*'agw_pk'.*got 'agw'"),
        ({"num_replicas": 0, "rank": 0}, ValueError, "num_replicas must be a positive int"),
        ({"num_replicas": 2, "rank": 2}, ValueError, r"rank must be in \[0, num_replicas\)"),
        ({"num_replicas": 2, "rank": -1}, ValueError, "rank must be an int >= 0, got -1"),
        ({"seed": -3}, ValueError, "seed must be an int >= 0, got -3"),
    ],
)
def test_argument_errors(kwargs, exc, match):
    _error(match, exc, **kwargs)


def test_sample_errors():
    _error("samples must not be empty", samples=[])
    _error("samples must be a sequence", TypeError, samples=iter(make_samples([(1, 1)])))
    _error(r"samples\[0\] is 3", TypeError, samples=[3])
    test_set = [Sample(Path("/q.jpg"), pid=7, cam=3, modality=INFRARED)]
    _error(r"label >= 0 \(pass training samples.*samples\[0\] with label -1", samples=test_set)
    bad_modality = [Sample(Path("/q.jpg"), pid=7, cam=3, modality=5, label=0)]
    _error(
        r"samples\[0\]\.modality must be VISIBLE \(0\) or INFRARED \(1\), got 5",
        samples=bad_modality,
    )


def test_set_epoch_errors():
    sampler = CrossModalityIdentitySampler(make_samples([(2, 2)] * 2), 1, 2)
    with pytest.raises(ValueError, match="epoch must be an int >= 0, got -1"):
        sampler.set_epoch(-1)
    with pytest.raises(TypeError, match="epoch must be an int"):
        sampler.set_epoch("1")


# -------------------------------------------------------------------------------- DataLoader


class IndexDataset(Dataset):
    def __init__(self, samples):
        self.samples = samples

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        s = self.samples[i]
        return torch.full((3, 4, 2), float(i)), s.label, s.modality


@pytest.mark.parametrize("variant", ["agw_pk", "pk_any", "idkl_random"])
def test_works_as_dataloader_batch_sampler(variant):
    samples = make_samples([(4, 3)] * 5)
    sampler = CrossModalityIdentitySampler(samples, 2, 2, variant, seed=1)
    loader = DataLoader(IndexDataset(samples), batch_sampler=sampler)
    assert len(loader) == len(sampler)
    batches = list(sampler)
    n = 0
    for (images, labels, modalities), batch in zip(loader, batches, strict=True):
        assert images.shape == (sampler.batch_size, 3, 4, 2)
        assert images[:, 0, 0, 0].long().tolist() == batch
        assert labels.tolist() == [samples[i].label for i in batch]
        if variant == "agw_pk":
            assert modalities.tolist() == [VISIBLE] * 4 + [INFRARED] * 4
        n += 1
    assert n == len(sampler)
