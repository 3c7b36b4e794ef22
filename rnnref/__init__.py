"""rnnref: a NumPy reference for the RNN language-model layers of
"Deep Learning from Scratch 2", every backward checked by `gradcheck`."""

from .functions import log_softmax, sigmoid, softmax
from .layers import GRU, LSTM, RNN, Affine, Embedding
from .models import Rnnlm, SimpleRnnlm
from .time_layers import TimeAffine, TimeBiLSTM, TimeEmbedding, TimeGRU, TimeLSTM, TimeRNN, TimeSoftmaxWithLoss

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Affine",
    "Embedding",
    "Rnnlm",
    "SimpleRnnlm",
    "TimeAffine",
    "TimeBiLSTM",
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
