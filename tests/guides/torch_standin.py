"""A NumPy test double of the few PyTorch pieces the "Convert PyTorch models to Flax" guide uses.

PyTorch is not a dependency of the project. The guide builds a torch layer,
copies its weights into the matching Linen layer and checks both give the same
output; with this double the torch half is a NumPy computation of what the
torch layer computes, so the Linen half runs and is checked against it:

* ``nn.Linear``: ``x @ weight.T + bias``; ``nn.Conv2d`` (NCHW, OIHW kernel,
  ``padding='valid'``): cross-correlation plus bias; both initialised as torch
  does, uniform in +-1/sqrt(fan_in);
* ``nn.BatchNorm2d`` in eval mode: ``(x - running_mean) / sqrt(running_var +
  eps) * weight + bias``, eps 1e-5, initialised as torch does (weight 1, bias
  0, running mean 0, running variance 1: the layer the guide converts is a
  fresh one; a swap of scale with bias or of mean with variance still shows);
* ``nn.AvgPool2d(count_include_pad=False)``: the mean over the window's
  elements inside the input;
* ``nn.Module`` (submodules registered by attribute, ``state_dict()``,
  ``forward`` on call), ``from_numpy`` and tensors with
  ``detach().cpu().numpy()``.

Linear, Conv2d and AvgPool2d sum in float64 and round once to float32 (at
least as accurate as torch's float32 kernels); BatchNorm2d follows the float32
steps of torch's CPU kernel (see ``BatchNorm2d.forward``).

>>> layer = nn.Linear(in_features=3, out_features=2)
>>> layer(from_numpy(np.ones((1, 3), np.float32))).detach().cpu().numpy().shape
(1, 2)
"""

import numpy as np

_RNG = np.random.default_rng(1234)


class Tensor:
    """A float32 array with the tensor methods the guide calls."""

    def __init__(self, array):
        self._array = np.asarray(array)

    @property
    def shape(self):
        return self._array.shape

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self._array

    def reshape(self, *shape):
        return Tensor(self._array.reshape(*shape))


def from_numpy(array):
    return Tensor(np.asarray(array))


def _uniform(bound, shape):
    return Tensor(_RNG.uniform(-bound, bound, shape).astype(np.float32))


def _f32(value):
    return Tensor(np.asarray(value).astype(np.float32))


class Module:
    """Submodules and parameters are attributes; ``module(x)`` calls ``forward``."""

    def __init__(self):
        object.__setattr__(self, '_children', {})

    def __setattr__(self, name, value):
        if isinstance(value, Module):
            self._children[name] = value
        object.__setattr__(self, name, value)

    def _parameters(self):
        return {}

    def state_dict(self):
        state = dict(self._parameters())
        for name, child in self._children.items():
            state.update({f'{name}.{key}': value for key, value in child.state_dict().items()})
        return state

    def eval(self):
        return self

    def __call__(self, x):
        return self.forward(x)


class Linear(Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        bound = 1 / np.sqrt(in_features)
        self.weight = _uniform(bound, (out_features, in_features))
        self.bias = _uniform(bound, (out_features,))

    def _parameters(self):
        return {'weight': self.weight, 'bias': self.bias}

    def forward(self, x):
        w, b = (t.numpy().astype(np.float64) for t in (self.weight, self.bias))
        return _f32(x.numpy().astype(np.float64) @ w.T + b)


class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, padding):
        super().__init__()
        if padding != 'valid':
            raise ValueError("the stand-in Conv2d has padding='valid' only (what the guide uses)")
        self.kernel_size = kernel_size
        bound = 1 / np.sqrt(in_channels * kernel_size * kernel_size)
        self.weight = _uniform(bound, (out_channels, in_channels, kernel_size, kernel_size))
        self.bias = _uniform(bound, (out_channels,))

    def _parameters(self):
        return {'weight': self.weight, 'bias': self.bias}

    def forward(self, x):
        x = x.numpy().astype(np.float64)  # N, C, H, W
        w = self.weight.numpy().astype(np.float64)  # O, I, kH, kW
        k = self.kernel_size
        n, _, h, wd = x.shape
        out = np.zeros((n, w.shape[0], h - k + 1, wd - k + 1))
        for i in range(k):
            for j in range(k):
                window = x[:, :, i : i + h - k + 1, j : j + wd - k + 1]
                out += np.einsum('nchw,oc->nohw', window, w[:, :, i, j])
        return _f32(out + self.bias.numpy().astype(np.float64)[None, :, None, None])


class BatchNorm2d(Module):
    def __init__(self, num_features, momentum=0.1, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = _f32(np.ones(num_features))
        self.bias = _f32(np.zeros(num_features))
        self.running_mean = _f32(np.zeros(num_features))
        self.running_var = _f32(np.ones(num_features))

    def forward(self, x):
        # torch's CPU kernel, in float32: alpha = weight / sqrt(var + eps),
        # beta = bias - mean * alpha, out = x * alpha + beta.
        def channel(t):
            return t.numpy().astype(np.float32)[None, :, None, None]

        eps = np.float32(self.eps)
        alpha = channel(self.weight) * (np.float32(1) / np.sqrt(channel(self.running_var) + eps))
        beta = channel(self.bias) - channel(self.running_mean) * alpha
        return _f32(x.numpy().astype(np.float32) * alpha + beta)


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride, padding, count_include_pad):
        super().__init__()
        if count_include_pad:
            raise ValueError('the stand-in AvgPool2d has count_include_pad=False only')
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        k, s, p = self.kernel_size, self.stride, self.padding
        x = x.numpy().astype(np.float64)
        n, c, h, w = x.shape
        padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        inside = np.pad(np.ones((h, w)), p)
        oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        out = np.zeros((n, c, oh, ow))
        for i in range(oh):
            for j in range(ow):
                rows, cols = slice(i * s, i * s + k), slice(j * s, j * s + k)
                out[:, :, i, j] = padded[:, :, rows, cols].sum(axis=(2, 3)) / inside[rows, cols].sum()
        return _f32(out)


class _NN:
    Module = Module
    Linear = Linear
    Conv2d = Conv2d
    BatchNorm2d = BatchNorm2d
    AvgPool2d = AvgPool2d


nn = _NN
