"""rnnref: a NumPy reference for the RNN language-model layers of
"Deep Learning from Scratch 2", every backward checked by `gradcheck`."""

from .functions import log_softmax, sigmoid, softmax
from .layers import GRU, LSTM, RNN, Affine, Dropout, Embedding
from .models import BetterRnnlm, Rnnlm, SimpleRnnlm
from .time_layers import (
    TimeAffine,
    TimeBiLSTM,
    TimeDropout,
    TimeEmbedding,
    TimeGRU,
    TimeLSTM,
    TimeRNN,
    TimeSoftmaxWithLoss,
)

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Affine",
    "BetterRnnlm",
    "Dropout",
    "Embedding",
    "Rnnlm",
    "SimpleRnnlm",
    "TimeAffine",
    "TimeBiLSTM",
    "TimeDropout",
    "TimeEmbedding",
    "TimeGRU",
    "TimeLSTM",
    "TimeRNN",
    "TimeSoftmaxWithLoss",
    "log_softmax",
    "sigmoid",
    "softmax",
]

__version__ = "0.1.0"
