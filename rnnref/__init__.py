"""rnnref: a NumPy reference for the RNN language-model layers of
"Deep Learning from Scratch 2", every backward checked by `gradcheck`."""

from .attention import (
    Attention,
    AttentionDecoder,
    AttentionEncoder,
    AttentionSeq2seq,
    AttentionWeight,
    TimeAttention,
    WeightSum,
)
from .functions import log_sigmoid, log_softmax, sigmoid, softmax
from .layers import (
    GRU,
    LSTM,
    RNN,
    Affine,
    Dropout,
    Embedding,
    MatMul,
    Sigmoid,
    SigmoidWithLoss,
    Softmax,
    SoftmaxWithLoss,
)
from .models import BetterRnnlm, Rnnlm, SimpleRnnlm
from .seq2seq import Decoder, Encoder, PeekyDecoder, PeekySeq2seq, Seq2seq
from .time_layers import (
    Simple_TimeAffine,
    Simple_TimeSoftmaxWithLoss,
    TimeAffine,
    TimeBiLSTM,
    TimeDropout,
    TimeEmbedding,
    TimeGRU,
    TimeLSTM,
    TimeRNN,
    TimeSigmoidWithLoss,
    TimeSoftmaxWithLoss,
)
from .word2vec import EmbeddingDot, NegativeSamplingLoss, UnigramSampler
from .word2vec_models import CBOW, SimpleCBOW, SimpleSkipGram, SkipGram, TwoLayerNet

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Affine",
    "Attention",
    "AttentionDecoder",
    "AttentionEncoder",
    "AttentionSeq2seq",
    "AttentionWeight",
    "CBOW",
    "BetterRnnlm",
    "Decoder",
    "Dropout",
    "Embedding",
    "EmbeddingDot",
    "Encoder",
    "MatMul",
    "NegativeSamplingLoss",
    "Sigmoid",
    "SigmoidWithLoss",
    "Simple_TimeAffine",
    "Simple_TimeSoftmaxWithLoss",
    "Softmax",
    "SoftmaxWithLoss",
    "Rnnlm",
    "PeekyDecoder",
    "PeekySeq2seq",
    "Seq2seq",
    "SimpleCBOW",
    "SimpleRnnlm",
    "SimpleSkipGram",
    "SkipGram",
    "TimeAffine",
    "TimeAttention",
    "TimeBiLSTM",
    "TimeDropout",
    "TimeEmbedding",
    "TimeGRU",
    "TimeLSTM",
    "TimeRNN",
    "TimeSigmoidWithLoss",
    "TimeSoftmaxWithLoss",
    "TwoLayerNet",
    "UnigramSampler",
    "WeightSum",
    "log_sigmoid",
    "log_softmax",
    "sigmoid",
    "softmax",
]

__version__ = "0.1.0"
