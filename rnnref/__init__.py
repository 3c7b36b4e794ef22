"""rnnref: a NumPy reference for the RNN language-model layers of
"Deep Learning from Scratch 2", every backward checked by `gradcheck`."""

from .functions import log_softmax, sigmoid, softmax
from .layers import RNN, Affine, Embedding
from .models import SimpleRnnlm
from .time_layers import TimeAffine, TimeEmbedding, TimeRNN, TimeSoftmaxWithLoss

__all__ = [
    "RNN",
    "Affine",
    "Embedding",
    "SimpleRnnlm",
    "TimeAffine",
    "TimeEmbedding",
    "TimeRNN",
    "TimeSoftmaxWithLoss",
    "log_softmax",
    "sigmoid",
    "softmax",
]

__version__ = "0.1.0"
