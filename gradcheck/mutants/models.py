"""Mutants of the model, SimpleRnnlm.

Each edits rnnref.SimpleRnnlm; the mutant class also derives from SimpleRnnlm64,
so it is built in float64 like the reference it is compared with (see `edit`).
"""

from __future__ import annotations

from . import Mutant, edit

_MODEL = ("SimpleRnnlm",)

MUTANTS: list[Mutant] = [
    edit(
        "SimpleRnnlm", "__init__",
        old="for layer in self.layers:",
        new="for layer in self.layers[:2]:  # BUG: self.layers, all three",
        name="model-params-left-out", family="model leaves a layer's params out", layers=_MODEL,
        description="params/grads collect the embedding and the RNN but not the affine layer",
    ),
    edit(
        "SimpleRnnlm", "__init__",
        old="self.params += layer.params",
        new="self.params += [p.copy() for p in layer.params]  # BUG: copies, not the layers' arrays",
        name="model-params-copies", family="model params are copies, not aliases", layers=_MODEL,
        description="params holds copies of the layers' arrays, so writing into them changes nothing",
    ),
    edit(
        "SimpleRnnlm", "__init__",
        old="self.grads += layer.grads",
        new="self.grads += [g.copy() for g in layer.grads]  # BUG: copies, not the layers' arrays",
        name="model-grads-copies", family="model params are copies, not aliases", layers=_MODEL,
        description="grads holds copies of the layers' arrays, so it never sees a backward",
    ),
    edit(
        "SimpleRnnlm", "__init__",
        old="TimeRNN(rnn_Wx, rnn_Wh, rnn_b, stateful=True),",
        new="TimeRNN(rnn_Wx, rnn_Wh, rnn_b, stateful=False),  # BUG: the model carries the state between chunks",
        name="model-not-stateful", family="model's TimeRNN not stateful", layers=_MODEL,
        description="the model's TimeRNN is built with stateful=False",
    ),
    edit(
        "SimpleRnnlm", "backward",
        old="self.loss_layer.backward(dout)",
        new="self.loss_layer.backward()  # BUG: dout not passed on",
        name="model-dout-ignored", family="dout ignored", layers=_MODEL,
        description="backward calls loss_layer.backward() without dout",
    ),
    edit(
        "SimpleRnnlm", "reset_state",
        old="self.rnn_layer.reset_state()",
        new="self.rnn_layer.dh = None  # BUG: self.rnn_layer.reset_state()",
        name="model-reset-broken", family="reset_state broken", layers=_MODEL,
        description="reset_state clears the RNN's .dh, not its state",
    ),
]

MUTANTS += [
    edit(
        "Rnnlm", "__init__",
        old="TimeLSTM(*_lstm_weights(rng, dtype, D, H), stateful=True)",
        new="TimeLSTM(*_lstm_weights(rng, dtype, D, H), stateful=False)  # BUG: the model carries h and c between chunks",
        name="rnnlm-not-stateful", family="model's TimeRNN not stateful", layers=("Rnnlm",),
        description="Rnnlm's TimeLSTM is built with stateful=False",
    ),
    edit(
        "Rnnlm", "reset_state",
        old="layer.reset_state()",
        new="layer.h = None  # BUG: c is kept",
        name="rnnlm-reset-keeps-c", family="reset_state broken", layers=("Rnnlm",),
        description="reset_state clears the LSTM's h but not its c",
    ),
]

MUTANTS += [
    edit(
        "BetterRnnlm", "__init__",
        old="TimeAffine(embed_W.T, np.zeros(V, dtype=dtype)),",
        new="TimeAffine(embed_W.T.copy(), np.zeros(V, dtype=dtype)),  # BUG: a copy: the weights are not tied",
        name="better-rnnlm-not-tied", family="tied weights", layers=("BetterRnnlm",),
        description="the affine layer gets a copy of embed_W.T, so the two weights train apart",
    ),
    edit(
        "BetterRnnlm", "__init__",
        old="self._collect()",
        new="self._collect()\ndel self.params[7], self.grads[7]  # BUG: tied weight listed once, its affine gradient dropped",
        name="better-rnnlm-tied-gradients-not-summed", family="tied weights", layers=("BetterRnnlm",),
        description="params lists embed_W once but grads keeps only the embedding's part of its gradient",
    ),
]
