"""The DataModule: split, completeness, uint8 batches, on-device normalisation and augmentation."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import N_TEST, N_TRAIN, image_ids

from pixelsense.train.data import (
    MEAN,
    STD,
    STEPS_PER_CALL,
    VAL_SIZE,
    EpochOrder,
    FashionMNISTDataModule,
    augment,
    eval_batch_size,
    normalize,
)


def make(fake_data, **kw) -> FashionMNISTDataModule:
    dm = FashionMNISTDataModule(data_dir=str(fake_data), download=False, **kw)
    dm.prepare_data()
    dm.setup()
    return dm


def test_split_sizes(fake_data):
    dm = make(fake_data)
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (N_TRAIN - VAL_SIZE, VAL_SIZE, N_TEST)
    small = make(fake_data, val_size=100)
    assert (len(small.train_set), len(small.val_set)) == (N_TRAIN - 100, 100)


def test_split_is_seeded_disjoint_and_covers_everything(fake_data):
    a, b, c = make(fake_data, seed=3), make(fake_data, seed=3), make(fake_data, seed=4)
    train, val = image_ids(a.train_set.images), image_ids(a.val_set.images)
    assert train == image_ids(b.train_set.images) and val == image_ids(b.val_set.images)
    assert val != image_ids(c.val_set.images)
    assert not set(train) & set(val)
    assert sorted(train + val) == list(range(N_TRAIN))


def test_setup_is_idempotent(fake_data):
    dm = make(fake_data)
    train_set, val_ids = dm.train_set, image_ids(dm.val_set.images)
    dm.setup("fit")
    dm.setup()
    assert dm.train_set is train_set and image_ids(dm.val_set.images) == val_ids


@pytest.mark.parametrize("batch_size", [7, 128, 1000])
def test_test_loader_counts_every_image_once(fake_data, batch_size):
    dm = make(fake_data, eval_batch_size=batch_size)
    seen = [i for x, _ in dm.test_dataloader() for i in image_ids(x)]
    assert sorted(seen) == list(range(N_TEST))
    assert sum(len(x) for x, _ in dm.val_dataloader()) == VAL_SIZE


def test_evaluation_batch_follows_the_device_unless_given(fake_data):
    cpu, dm, given = torch.device("cpu"), make(fake_data), make(fake_data, eval_batch_size=40)
    assert dm.batches(dm.val_set, False, cpu).batch_size == eval_batch_size(cpu)
    assert len(dm.val_dataloader()) == math.ceil(VAL_SIZE / eval_batch_size(cpu))
    assert given.batches(given.val_set, False, cpu).batch_size == 40
    # On a GPU the validation split is one batch: Lightning's loop and the metric updates run once.
    assert eval_batch_size(torch.device("cuda", 1)) >= VAL_SIZE > eval_batch_size(cpu)


def test_batches_are_uint8_slices_with_labels(fake_data):
    dm = make(fake_data, batch_size=64)
    x, y = next(iter(dm.train_dataloader())).batches[0]
    assert x.dtype == torch.uint8 and x.shape == (64, 28, 28)
    assert y.dtype == torch.int64 and y.shape == (64,)
    by_id = dict(zip(image_ids(dm.train_set.images), dm.train_set.labels.tolist(), strict=True))
    assert [by_id[i] for i in image_ids(x)] == y.tolist()


def test_normalize_maps_pixels_with_mean_and_std():
    pixels = torch.tensor([0, 255], dtype=torch.uint8).repeat(392).reshape(1, 28, 28)
    x = normalize(pixels)
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
    assert x.min().item() == pytest.approx(-MEAN / STD) and x.max().item() == pytest.approx((1 - MEAN) / STD)


def test_augment_flips_and_translates_each_sample_on_its_own():
    torch.manual_seed(0)
    x = torch.zeros(256, 1, 28, 28)
    x[:, :, 10, 5] = 1.0  # one lit pixel, left of centre
    flipped = augment(x, flip=True, translate=0)
    on_right = flipped[:, 0, 10, 22] == 1
    assert 0 < on_right.sum() < 256  # some flipped, some not
    moved = augment(x, flip=False, translate=2)
    rows, cols = (moved[:, 0] == 1).nonzero()[:, 1:].T
    assert moved.sum() == 256  # nothing lost: every pixel lands inside
    assert set(rows.tolist()) == set(range(8, 13)) and set(cols.tolist()) == set(range(3, 8))
    assert torch.equal(augment(x, flip=False, translate=0), x)


def test_augmentation_runs_only_while_training(fake_data):
    dm = make(fake_data, batch_size=32)
    x, y = next(iter(dm.val_dataloader()))

    class Loop:
        training = False

    dm.trainer = Loop()
    plain, _ = dm.on_after_batch_transfer((x, y), 0)
    assert torch.equal(plain, normalize(x))
    Loop.training = True
    augmented, labels = dm.on_after_batch_transfer((x, y), 0)
    assert augmented.shape == plain.shape and torch.equal(labels, y)
    assert not torch.equal(augmented, plain)


def test_ddp_shards_cover_each_image_exactly_once(fake_data):
    shards: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for rank in range(3):
        dm = make(fake_data, batch_size=50, eval_batch_size=40)

        class Trainer:
            world_size, global_rank, training = 3, rank, False

        dm.trainer = Trainer()
        for stage, loader in [("train", dm.train_dataloader()), ("val", dm.val_dataloader()),
                              ("test", dm.test_dataloader())]:  # fmt: skip
            batches = (b for group in loader for b in group.batches) if stage == "train" else loader
            ids = [i for x, _ in batches for i in image_ids(x)]
            assert stage != "train" or abs(len(ids) - (N_TRAIN - VAL_SIZE) / 3) <= 1
            shards[stage] += ids
    assert sorted(shards["test"]) == list(range(N_TEST))  # no padding, no repeats
    assert sorted(shards["val"]) == sorted(image_ids(dm.val_set.images))
    assert len(set(shards["train"])) == N_TRAIN - VAL_SIZE


def test_epoch_order_is_a_function_of_seed_and_epoch_alone():
    def order(seed: int, epoch: int, **kw) -> list[int]:
        sampler = EpochOrder(500, shuffle=True, seed=seed, **kw)
        sampler.set_epoch(epoch)
        return sampler.indices().tolist()

    assert order(3, 0) == order(3, 0)  # a resumed run draws the same batches
    assert sorted(order(3, 0)) == list(range(500))
    assert order(3, 1) != order(3, 0) and order(4, 0) != order(3, 0)
    assert order(3, 1) != order(4, 0)  # two seeds never share an epoch's order
    shards = [order(3, 1, rank=r, world=3) for r in range(3)]  # padded to 501, as DistributedSampler
    assert [len(s) for s in shards] == [167] * 3 and {i for s in shards for i in s} == set(range(500))
    assert EpochOrder(500, shuffle=False).indices() is None  # evaluation: in order, sliced as views


def test_batches_are_born_on_their_device_and_cross_lightning_untouched(fake_data):
    dm = make(fake_data, batch_size=100)
    loader = dm.batches(dm.train_set, shuffle=True, device=torch.device("cpu"))
    batches = list(loader)
    assert len(batches) == len(loader) == 3  # 300 training images
    assert sorted(i for x, _ in batches for i in image_ids(x)) == sorted(image_ids(dm.train_set.images))
    batch = batches[0]
    moved = dm.transfer_batch_to_device(batch, torch.device("cpu"), 0)
    assert moved is batch  # no per-step walk or copy
    loader.sampler.set_epoch(1)  # what Lightning calls before each epoch
    assert [image_ids(x) for x, _ in loader] != [image_ids(x) for x, _ in batches]


def test_training_batches_come_in_groups_of_steps_with_their_transform(fake_data):
    dm = make(fake_data, batch_size=16)  # 300 training images: 19 batches, in groups of STEPS_PER_CALL
    loader = dm.train_dataloader()
    groups = list(loader)
    plain = list(dm.batches(dm.train_set, shuffle=True, device=torch.device("cpu")))
    assert loader.steps == len(plain) == 19 and len(loader) == len(groups) == math.ceil(19 / STEPS_PER_CALL)
    assert [len(g) for g in groups[:-1]] == [STEPS_PER_CALL] * (len(groups) - 1)
    assert [image_ids(x) for g in groups for x, _ in g.batches] == [image_ids(x) for x, _ in plain]

    class Trainer:
        world_size, global_rank, training = 1, 0, True

    dm.trainer = Trainer()
    assert dm.transfer_batch_to_device(groups[0], torch.device("cpu"), 0) is groups[0]
    steps = dm.on_after_batch_transfer(groups[0], 0)
    images = steps.batches[0][0]
    assert images.dtype == torch.uint8  # made an input only when the module reaches it
    torch.manual_seed(0)
    made = steps.transform(images)
    torch.manual_seed(0)
    assert torch.equal(made, dm.model_input(images, augment=True)) and made.shape == (16, 1, 28, 28)
