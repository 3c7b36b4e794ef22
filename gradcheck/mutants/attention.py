"""Mutants of the attention family: WeightSum, AttentionWeight, Attention,
TimeAttention, AttentionEncoder, AttentionDecoder, AttentionSeq2seq.

rnnref's Attention builds its own AttentionWeight and WeightSum, TimeAttention its
own Attention, AttentionSeq2seq its own encoder and decoder: a mutant of one is
listed for that layer alone (the checker builds only the layer it checks from the
mutated namespace)."""

from __future__ import annotations

from . import Mutant, edit

MUTANTS: list[Mutant] = [
    edit(
        "WeightSum", "backward",
        old="da = np.sum(hs * dc[:, np.newaxis, :], axis=2)",
        new="da = np.sum(hs * dc[:, np.newaxis, :], axis=1)  # BUG: summed over the steps T, not over H",
        name="weightsum-da-wrong-axis", family="attention: a sum over the wrong axis", layers=("WeightSum",),
        description="backward's da sums hs * dc over T instead of H: (N, H), not the (N, T) of a",
    ),
    edit(
        "AttentionWeight", "forward",
        old="a = e / np.sum(e, axis=1, keepdims=True)",
        new="a = e / np.sum(e, axis=0, keepdims=True)  # BUG: normalised over the batch, not the encoder steps",
        name="attention-weights-summed-over-batch", family="attention: a sum over the wrong axis",
        layers=("AttentionWeight",),
        description="the weights sum to 1 over the batch axis N, not over the encoder steps T",
    ),
    edit(
        "AttentionWeight", "backward",
        old="ds = a * (da - np.sum(da * a, axis=1, keepdims=True))",
        new="ds = a * (da - np.sum(da * a, axis=0, keepdims=True))  # BUG: the softmax's Jacobian over the batch axis",
        name="attention-softmax-backward-wrong-axis", family="attention: a sum over the wrong axis",
        layers=("AttentionWeight",),
        description="backward applies the softmax's Jacobian over N; the forward's softmax is over T",
    ),
    edit(
        "Attention", "backward",
        old="dhs = dhs_sum + dhs_weight",
        new="dhs = dhs_sum  # BUG: the path through the weights is dropped",
        name="attention-dhs-paths-not-added", family="a gradient path dropped", layers=("Attention",),
        description="dhs is the weighted sum's alone; hs also made the weights, whose dhs is left out",
    ),
    edit(
        "TimeAttention", "backward",
        old="dhs_enc += dhs",
        new="dhs_enc = dhs  # BUG: overwritten, not summed over the decoder steps",
        name="time-attention-dhs-enc-overwritten", family="gradient not accumulated",
        layers=("TimeAttention",),
        description="dhs_enc keeps the last decoder step's gradient; every step read hs_enc",
    ),
    edit(
        "TimeAttention", "forward",
        old="for t in range(hs_dec.shape[1]):",
        new="for t in range(hs_enc.shape[1]):  # BUG: the encoder's steps, not the decoder's",
        name="time-attention-loops-over-encoder-steps", family="a loop over the wrong length",
        layers=("TimeAttention",),
        description="forward runs one attention per encoder step: right only when both sequences have one length",
    ),
    edit(
        "AttentionEncoder", "backward",
        old="self.embed.backward(self.lstm.backward(dhs))",
        new="last = np.zeros_like(dhs)\n"
        "last[:, -1] = dhs[:, -1]  # BUG: as Encoder's: only the last state's gradient\n"
        "self.embed.backward(self.lstm.backward(last))",
        name="attention-encoder-last-step-only", family="gradient enters at the wrong step",
        layers=("AttentionEncoder",),
        description="backward keeps dhs[:, -1] only, as ch07's Encoder did; the attention read every step",
    ),
    edit(
        "AttentionDecoder", "backward",
        old="denc_hs[:, -1] += dh",
        new="pass  # BUG: the LSTM's dh never reaches enc_hs[:, -1], its initial state",
        name="attention-decoder-dh-not-passed", family="a gradient path dropped",
        layers=("AttentionDecoder",),
        description="denc_hs is the attention's alone; enc_hs[:, -1] also started the decoder's LSTM",
    ),
    edit(
        "AttentionDecoder", "backward",
        old="dc, ddec_hs = dout[:, :, :H], dout[:, :, H:]",
        new="ddec_hs, dc = dout[:, :, :H], dout[:, :, H:]  # BUG: split back in the wrong order",
        name="attention-decoder-concat-split-swapped", family="concatenation gradient not split back",
        layers=("AttentionDecoder",),
        description="the affine's input was [context | state]; backward gives the context the state's half",
    ),
    edit(
        "AttentionDecoder", "generate",
        old="return self._greedy(enc_hs[:, -1], enc_hs, start_id, sample_size)",
        new="return self._greedy(0 * enc_hs[:, -1], enc_hs, start_id, sample_size)  # BUG: the LSTM from zeros",
        name="attention-generate-from-zeros", family="generate",
        layers=("AttentionDecoder",),
        description="generate starts the decoder's LSTM from zeros; forward starts it from enc_hs[:, -1]",
    ),
]
