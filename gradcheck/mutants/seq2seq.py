"""Mutants of the seq2seq family: Encoder, Decoder, Seq2seq, PeekyDecoder.

Seq2seq builds rnnref's own Encoder and Decoder, so a mutant of either is listed
for that layer alone; the model's mutants edit Seq2seq itself. PeekyDecoder's are
the peeky concatenations' gradients not split back into dh."""

from __future__ import annotations

from . import Mutant, edit

_ENCODER = ("Encoder",)
_DECODER = ("Decoder",)
_SEQ2SEQ = ("Seq2seq",)
_PEEKY = ("PeekyDecoder",)

MUTANTS: list[Mutant] = [
    edit(
        "Encoder", "backward",
        old="dhs[:, -1, :] = dh",
        new="dhs[:, 0, :] = dh  # BUG: h is the last step's, so its gradient enters at the last step",
        name="encoder-dh-first-step", family="gradient enters at the wrong step", layers=_ENCODER,
        description="backward puts dh on the first step of dhs, forward returned the last step's h",
    ),
    edit(
        "Decoder", "backward",
        old="dh = self.lstm.dh",
        new="dh = self.lstm.h  # BUG: the LSTM's last state, not the gradient of its initial one",
        name="decoder-returns-state-not-dh", family="wrong array returned", layers=_DECODER,
        description="backward returns the final hidden state instead of dh",
    ),
    edit(
        "Decoder", "_build",
        old="self.lstm = TimeLSTM(*_lstm_weights(rng, dtype, lstm_in, H), stateful=True)",
        new="self.lstm = TimeLSTM(*_lstm_weights(rng, dtype, lstm_in, H), stateful=False)  # BUG: set_state(h) is dropped",
        name="decoder-lstm-not-stateful", family="encoder state ignored", layers=_DECODER,
        description="the decoder's TimeLSTM is stateful=False: it starts from zeros, not from h",
    ),
    edit(
        "Seq2seq", "backward",
        old="self.encoder.backward(dh)",
        new="self.encoder.backward(dh * 0)  # BUG: the decoder's dh does not reach the encoder",
        name="seq2seq-dh-not-passed-to-encoder", family="a gradient path dropped", layers=_SEQ2SEQ,
        description="the encoder's backward gets zeros: its weights learn nothing",
    ),
    edit(
        "Seq2seq", "forward",
        old="decoder_xs, decoder_ts = ts[:, :-1], ts[:, 1:]",
        new="decoder_xs, decoder_ts = ts[:, :-1], ts[:, :-1]  # BUG: scored on its own input, not the next word",
        name="seq2seq-targets-not-shifted", family="teacher forcing off by one", layers=_SEQ2SEQ,
        description="the decoder is scored on ts[:, :-1], the words it was fed, not ts[:, 1:]",
    ),
    edit(
        "Seq2seq", "forward",
        old="decoder_xs, decoder_ts = ts[:, :-1], ts[:, 1:]",
        new="T = xs.shape[1]  # BUG: the source's length, not the target's\n"
        "decoder_xs, decoder_ts = ts[:, : T - 1], ts[:, 1:T]",
        name="seq2seq-decoder-cut-to-the-source-length", family="a loop over the wrong length", layers=_SEQ2SEQ,
        description="the decoder reads and is scored on ts up to xs' length: right only when the two have one length",
    ),
    edit(
        "Seq2seq", "generate",
        old="return self.decoder.generate(self.encoder.forward(xs), start_id, sample_size)",
        new="return [start_id] + self.decoder.generate(self.encoder.forward(xs), start_id, sample_size)  # BUG: start id is no sample",
        name="seq2seq-generate-returns-start-id", family="generate", layers=_SEQ2SEQ,
        description="generate returns the start id before the sample_size sampled ids",
    ),
    edit(
        "PeekyDecoder", "backward",
        old="return self.lstm.dh + dhs.sum(axis=1)",
        new="return self.lstm.dh + dhs[:, -1]  # BUG: h was fed to every step, not the last only",
        name="peeky-dh-not-summed-over-time", family="peeky concatenation gradient not split back", layers=_PEEKY,
        description="dh takes the peeked h's gradient from the last step only, not summed over the steps",
    ),
    edit(
        "PeekyDecoder", "backward",
        old="dhs_lstm, dembed = dx[:, :, :H], dx[:, :, H:]",
        new="dembed, dhs_lstm = dx[:, :, :-H], dx[:, :, -H:]  # BUG: the LSTM read [h, word], not [word, h]",
        name="peeky-split-at-wrong-offset", family="peeky concatenation gradient not split back", layers=_PEEKY,
        description="the LSTM's dx is split as [word, h] (at D) though forward concatenated [h, word] (at H)",
    ),
    edit(
        "PeekyDecoder", "backward",
        old="dhs = dhs_affine + dhs_lstm",
        new="dhs = dhs_lstm  # BUG: the affine's input held h too",
        name="peeky-affine-dh-dropped", family="peeky concatenation gradient not split back", layers=_PEEKY,
        description="the h part of the affine input's gradient is not added into dh",
    ),
    edit(
        "PeekyDecoder", "_scores",
        old="hs = np.broadcast_to(h[:, None, :], (N, T, H))",
        new="hs = np.tile(h, (T, 1)).reshape(N, T, H)  # BUG: the rows of h land on the wrong (sequence, step)",
        name="peeky-h-repeated-across-batch", family="peeky h not fed to its own sequence", layers=_PEEKY,
        description="h is repeated as tile(h, (T, 1)): step t of sequence n peeks at another sequence's h",
    ),
    edit(
        "PeekyDecoder", "_greedy",
        old="score = self._scores(np.array(sample_id).reshape((1, 1)), encoded)",
        new="score = self._scores(np.array(sample_id).reshape((1, 1)), encoded if not sampled else 0 * encoded)"
        "  # BUG: h peeked at the first step only",
        name="peeky-generate-h-first-step-only", family="generate", layers=_PEEKY,
        description="generate feeds the encoder's h to the first step only, forward to every step",
    ),
]
