"""``nnjax.training.early_stopping``: stop training once a metric stops improving.

:class:`EarlyStopping` is an immutable record (an ``nnjax.struct``
dataclass): :meth:`EarlyStopping.update` returns a new record rather than
changing the old one, so it can live inside a checkpointed train state.

Lower is better (a loss). An update *improves* when it beats the best value
so far by more than ``min_delta``; after more than ``patience`` updates in a
row without improvement, ``should_stop`` becomes ``True`` and stays so until
:meth:`EarlyStopping.reset`.

>>> early_stop = EarlyStopping(min_delta=1e-3, patience=1)
>>> for loss in [1.0, 0.5, 0.4999, 0.4998]:
...     _, early_stop = early_stop.update(loss)
...     if early_stop.should_stop:
...         print('stopping; best loss', early_stop.best_metric)
...         break
stopping; best loss 0.5
"""

import math

from nnjax import struct

__all__ = ['EarlyStopping']


class EarlyStopping(struct.PyTreeNode):
    """Early stopping state: the best metric and the run of non-improving updates.

    Attributes:
      min_delta: an update improves only if it is lower than ``best_metric``
        by more than this.
      patience: how many updates in a row may fail to improve; the next one
        that fails sets ``should_stop``.
      best_metric: the best (lowest) metric seen; ``inf`` before the first
        update, which therefore always counts as an improvement.
      patience_count: updates since the last improvement.
      should_stop: whether training should stop (sticky until :meth:`reset`).
      has_improved: whether the latest update improved.

    >>> EarlyStopping(patience=2)
    EarlyStopping(min_delta=0, patience=2, best_metric=inf, patience_count=0, should_stop=False, has_improved=False)
    """

    min_delta: float = 0
    patience: int = 0
    best_metric: float = float('inf')
    patience_count: int = 0
    should_stop: bool = False
    has_improved: bool = False

    def reset(self):
        """A copy with the history cleared (``min_delta``, ``patience`` kept).

        >>> stopped = EarlyStopping(best_metric=0.1, patience_count=3, should_stop=True)
        >>> fresh = stopped.reset()
        >>> fresh.best_metric, fresh.patience_count, fresh.should_stop
        (inf, 0, False)
        """
        return self.replace(best_metric=float('inf'), patience_count=0, should_stop=False, has_improved=False)

    def update(self, metric):
        """Record one metric value; returns ``(has_improved, new_state)``.

        Runs eagerly (it branches in Python on the metric's value), so call it
        outside ``jit``, e.g. once per epoch.

        Args:
          metric: the new value (a float or a 0-d array); lower is better.

        >>> state = EarlyStopping(min_delta=0.1)
        >>> improved, state = state.update(1.0)
        >>> improved, state.best_metric
        (True, 1.0)
        >>> improved, state = state.update(0.95)   # better, but not by > 0.1
        >>> improved, state.best_metric, state.patience_count, state.should_stop
        (False, 1.0, 1, True)
        """
        first = math.isinf(self.best_metric) and self.best_metric > 0
        if first or bool(self.best_metric - metric > self.min_delta):
            new_state = self.replace(best_metric=metric, patience_count=0, has_improved=True)
            return True, new_state
        patience_count = self.patience_count + 1
        should_stop = self.should_stop or patience_count > self.patience
        new_state = self.replace(patience_count=patience_count, should_stop=should_stop, has_improved=False)
        return False, new_state
