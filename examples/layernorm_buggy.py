"""examples/layernorm.py's LayerNorm with one planted bug: backward drops the
projection of dxhat on xhat (the term that comes from the variance depending on
x). `gradcheck check examples/layernorm_buggy.py` names dx and its worst entries."""

from layernorm import LayerNorm as RightLayerNorm  # imports the declaration too


class LayerNorm(RightLayerNorm):
    @staticmethod
    def normalization_backward(dxhat, xhat, inv):
        return inv * (dxhat - dxhat.mean(axis=-1, keepdims=True))  # BUG: - xhat * mean(dxhat * xhat) missing
