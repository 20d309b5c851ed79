"""Small test doubles for the data and plotting packages the seed's guides import.

The guides download MNIST with ``tensorflow_datasets``, batch it with
``tf.data``, count metrics with ``clu`` and plot with ``matplotlib``. None of
these is a dependency of the project (``clu`` itself depends on the seed
system), and CI has no network. Issue 15 says the guides run with "data
downloads replaced by small random arrays": these modules give the guides'
calls random MNIST-shaped data with the same structure (dict batches of
``image`` float/uint8 ``(n, 28, 28, 1)`` and integer ``label``), a metrics
collection with clu's ``Collection`` / ``Accuracy`` / ``Average`` interface,
and plotting calls that draw nothing. :func:`install` puts them in
``sys.modules`` under the real names; nothing outside the guide runner uses
them.
"""

import sys
import types

import numpy as np

#: Examples per split: enough for a few batches of the guides' batch sizes, small enough for CI.
SPLIT_SIZES = {'train': 256, 'test': 128}


# --- tf.data / tensorflow_datasets ---------------------------------------------------


class _Count(int):
    """``Dataset.cardinality()``: a scalar tensor, read with ``.numpy()``."""

    def numpy(self):
        return np.int64(self)


class _NumpyIterator:
    """``as_numpy_iterator()``: a Python iterator that also has tf's ``.next()``."""

    def __init__(self, items):
        self._items = iter(items)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._items)

    next = __next__


class Dataset:
    """An in-memory ``tf.data.Dataset`` over dict-of-array examples (the calls the guides make)."""

    def __init__(self, columns, batched=0):
        self._columns = columns
        self._batched = batched

    def __len__(self):
        return len(next(iter(self._columns.values())))

    def cardinality(self):
        return _Count(len(self))

    def map(self, fn):
        out = [fn({k: _Tensor(v[i]) for k, v in self._columns.items()}) for i in range(len(self))]
        return Dataset({k: np.stack([np.asarray(o[k]) for o in out]) for k in out[0]}, self._batched)

    def repeat(self, count=None):
        reps = 1 if count is None else count
        return Dataset({k: np.concatenate([v] * reps) for k, v in self._columns.items()}, self._batched)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=None):
        order = np.random.default_rng(seed).permutation(len(self))
        return Dataset({k: v[order] for k, v in self._columns.items()}, self._batched)

    def batch(self, batch_size, drop_remainder=False):
        n = len(self)
        stops = range(0, n - (batch_size - 1 if drop_remainder else 0), batch_size)
        batches = [{k: v[i : i + batch_size] for k, v in self._columns.items()} for i in stops]
        return _Batches(batches)

    def prefetch(self, buffer_size):
        return self

    def filter(self, predicate):
        keep = [i for i in range(len(self)) if bool(predicate({k: v[i] for k, v in self._columns.items()}))]
        return Dataset({k: v[keep] for k, v in self._columns.items()}, self._batched)

    def take(self, count):
        return Dataset({k: v[:count] for k, v in self._columns.items()}, self._batched)

    def as_numpy_iterator(self):
        return _NumpyIterator({k: v[i] for k, v in self._columns.items()} for i in range(len(self)))

    def __iter__(self):
        return self.as_numpy_iterator()


class _Batches(Dataset):
    """A batched dataset: a list of dict batches (batching again stacks batches)."""

    def __init__(self, batches):
        self._list = batches

    def __len__(self):
        return len(self._list)

    def cardinality(self):
        return _Count(len(self._list))

    def batch(self, batch_size, drop_remainder=False):
        n = len(self._list)
        stops = range(0, n - (batch_size - 1 if drop_remainder else 0), batch_size)
        return _Batches(
            [{k: np.stack([b[k] for b in self._list[i : i + batch_size]]) for k in self._list[0]} for i in stops]
        )

    def map(self, fn):
        return _Batches([{k: np.asarray(v) for k, v in fn(b).items()} for b in self._list])

    def repeat(self, count=None):
        return _Batches(self._list * (1 if count is None else count))

    def prefetch(self, buffer_size):
        return self

    def take(self, count):
        return _Batches(self._list[:count])

    def as_numpy_iterator(self):
        return _NumpyIterator(self._list)


class _Tensor(np.ndarray):
    """What ``tf.cast`` receives: an array (tf ops in the guides' map functions act on arrays)."""

    def __new__(cls, value):
        return np.asarray(value).view(cls)


def _mnist(split, seed):
    rng = np.random.default_rng(seed)
    n = SPLIT_SIZES[split]
    return {
        'image': rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8),
        'label': rng.integers(0, 10, (n,), dtype=np.int64),
    }


def _load(name, split='train', **kwargs):
    if isinstance(split, str) and split in SPLIT_SIZES:
        return Dataset(_mnist(split, seed=SPLIT_SIZES[split]))
    if isinstance(split, str) and '[' in split:  # 'test[0:1667]' from split_for_jax_process
        base, rest = split.split('[', 1)
        lo, hi = (int(p) if p else None for p in rest.rstrip(']').split(':'))
        data = _mnist(base, seed=SPLIT_SIZES[base])
        return Dataset({k: v[lo:hi] for k, v in data.items()})
    raise ValueError(f'stand-in tfds has the splits {list(SPLIT_SIZES)}, not {split!r}')


def _split_for_jax_process(split, *, process_index, process_count, drop_remainder=False):
    n = SPLIT_SIZES[split]
    bounds = [round(i * n / process_count) for i in range(process_count + 1)]
    return f'{split}[{bounds[process_index]}:{bounds[process_index + 1]}]'


def _tensorflow_datasets():
    tfds = types.ModuleType('tensorflow_datasets', 'test double: random MNIST-shaped data')
    tfds.load = _load
    tfds.split_for_jax_process = _split_for_jax_process
    tfds.as_numpy = lambda ds: ds.as_numpy_iterator() if hasattr(ds, 'as_numpy_iterator') else ds
    return tfds


def _tensorflow():
    tf = types.ModuleType('tensorflow', 'test double: the few tf calls the guides make')
    # einops asks whether an array is a tf.Tensor once tensorflow is imported.
    tf.Tensor = type('Tensor', (), {})
    tf.Variable = type('Variable', (), {})
    tf.float32 = np.float32
    tf.int32 = np.int32
    tf.cast = lambda x, dtype: np.asarray(x).astype(dtype)
    tf.random = types.SimpleNamespace(set_seed=lambda seed: None)
    tf.config = types.SimpleNamespace(experimental=types.SimpleNamespace(set_visible_devices=lambda *a, **k: None))
    tf.data = types.SimpleNamespace(Dataset=Dataset)
    return tf


# --- clu.metrics ---------------------------------------------------------------------


def _clu_metrics():
    """clu's metric interface: ``Collection.empty/single_from_model_output/merge/compute``."""
    import jax.numpy as jnp

    from nnjax import struct

    metrics = types.ModuleType('clu.metrics', 'test double of clu.metrics')

    @struct.dataclass
    class Average:
        total: object
        count: object

        @classmethod
        def empty(cls):
            return cls(total=jnp.zeros((), jnp.float32), count=jnp.zeros((), jnp.int32))

        @classmethod
        def from_output(cls, name):
            @struct.dataclass
            class FromOutput(cls):
                @classmethod
                def from_model_output(klass, **kwargs):
                    value = jnp.asarray(kwargs[name], jnp.float32)
                    return klass(total=value.sum(), count=jnp.asarray(value.size, jnp.int32))

            return FromOutput

        def merge(self, other):
            return type(self)(total=self.total + other.total, count=self.count + other.count)

        def compute(self):
            return self.total / self.count

    @struct.dataclass
    class Accuracy(Average):
        @classmethod
        def from_model_output(cls, *, logits, labels, **_):
            correct = (logits.argmax(axis=-1) == labels).astype(jnp.float32)
            return cls(total=correct.sum(), count=jnp.asarray(correct.size, jnp.int32))

    class Collection:
        @classmethod
        def _fields(cls):
            return {name: tp for name, tp in cls.__annotations__.items()}

        @classmethod
        def empty(cls):
            return cls(**{name: tp.empty() for name, tp in cls._fields().items()})

        @classmethod
        def single_from_model_output(cls, **kwargs):
            return cls(**{name: tp.from_model_output(**kwargs) for name, tp in cls._fields().items()})

        def merge(self, other):
            return type(self)(**{name: getattr(self, name).merge(getattr(other, name)) for name in self._fields()})

        def compute(self):
            return {name: getattr(self, name).compute() for name in self._fields()}

    metrics.Average = Average
    metrics.Accuracy = Accuracy
    metrics.Collection = Collection
    return metrics


# --- matplotlib ----------------------------------------------------------------------


class _Drawing:
    """Any plotting object: every attribute is a call that draws nothing and returns another."""

    def __getattr__(self, name):
        return _Drawing()

    def __call__(self, *args, **kwargs):
        return _Drawing()

    def __iter__(self):
        return iter((_Drawing(), _Drawing()))

    def flatten(self):
        return [_Drawing() for _ in range(25)]


def _pyplot():
    plt = types.ModuleType('matplotlib.pyplot', 'test double: draws nothing')

    def subplots(nrows=1, ncols=1, **kwargs):
        axes = np.empty((nrows, ncols), dtype=object)
        for index in np.ndindex(axes.shape):
            axes[index] = _Drawing()
        return _Drawing(), (axes[0, 0] if axes.size == 1 else axes.squeeze())

    plt.subplots = subplots
    plt.__getattr__ = lambda name: _Drawing()
    return plt


def install():
    """Put the doubles in ``sys.modules`` (tensorflow_datasets, tensorflow, clu, matplotlib)."""
    clu = types.ModuleType('clu')
    clu.metrics = _clu_metrics()
    mpl = types.ModuleType('matplotlib')
    mpl.pyplot = _pyplot()
    sys.modules.update(
        {
            'tensorflow_datasets': _tensorflow_datasets(),
            'tensorflow': _tensorflow(),
            'clu': clu,
            'clu.metrics': clu.metrics,
            'matplotlib': mpl,
            'matplotlib.pyplot': mpl.pyplot,
        }
    )
