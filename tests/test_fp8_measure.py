"""fp8 in `measure` and `calibrate`: which devices run it, the scaled-matmul path itself (PyTorch
runs torch._scaled_mm on the CPU too, so its numbers are checked here), and the one-line refusals.
The timed fp8 runs need a CUDA GPU of compute capability ≥ 8.9 and are skipped elsewhere."""

import json

import pytest

import roofline
from roofline.errors import RooflineError

torch = pytest.importorskip("torch")

from roofline.evidence import measure as measure_mod  # noqa: E402  (needs torch only when run)
from roofline.evidence.decoder import RandomDecoder, fp8_linear, fp8_shape_problem, quantize_fp8  # noqa: E402
from roofline.evidence.torch_env import fp8_reason, fp8_unsupported  # noqa: E402
from test_evidence import TINY, call  # noqa: E402

HAS_FP8_GPU = torch.cuda.is_available() and fp8_unsupported(torch.device("cuda")) is None
GPU_ONLY = pytest.mark.skipif(not HAS_FP8_GPU, reason="needs a CUDA GPU with compute capability ≥ 8.9 (fp8 tensor cores)")


@pytest.fixture()
def tiny(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps(TINY))
    return str(p)


@pytest.mark.parametrize("device, capability, name, runs", [
    ("cpu", None, "", False),
    ("cuda", (7, 0), "Tesla V100-SXM2-32GB", False),
    ("cuda", (8, 0), "NVIDIA A100-SXM4-80GB", False),
    ("cuda", (8, 6), "NVIDIA A10G", False),
    ("cuda", (8, 9), "NVIDIA L4", True),  # Ada: the first fp8 tensor cores
    ("cuda", (9, 0), "NVIDIA H100 80GB HBM3", True),
    ("cuda", (10, 0), "NVIDIA B200", True),
])
def test_which_devices_run_fp8(device, capability, name, runs):
    why = fp8_reason(device, capability, name)
    assert (why is None) == runs
    if device == "cpu":
        assert why == "fp8 needs a CUDA GPU with compute capability ≥ 8.9 (Ada, Hopper, Blackwell); this is the CPU"
    elif not runs:
        assert why.endswith(f"; {name} has {capability[0]}.{capability[1]}")


def test_quantize_fp8_scales_the_largest_value_to_448():
    t = torch.tensor([0.5, -1.0, 2.0])
    q, scale = quantize_fp8(t)
    # scale = amax / 448 = 2 / 448; the values become 112, -224, 448, each exact in e4m3 (1.75 × 2^6, 2^7, 2^8)
    assert scale.item() == pytest.approx(2 / 448)
    assert q.dtype == torch.float8_e4m3fn and q.float().tolist() == [112.0, -224.0, 448.0]
    assert (q.float() * scale).tolist() == pytest.approx([0.5, -1.0, 2.0])


def test_fp8_linear_is_the_matmul_to_e4m3_precision():
    torch.manual_seed(0)
    x, w = torch.randn(5, 3, 64), torch.randn(48, 64)
    y = fp8_linear(x, *quantize_fp8(w))
    ref = torch.nn.functional.linear(x, w)
    assert y.shape == (5, 3, 48) and y.dtype == x.dtype
    rel = ((y - ref).norm() / ref.norm()).item()
    # e4m3 keeps 3 mantissa bits: each element within 2^-4 relative; random errors of a 64-term dot
    # product partly cancel, to a few percent overall, but the result is not the fp32 one
    assert 1e-3 < rel < 0.05


def test_fp8_decoder_follows_the_full_precision_one(tiny):
    torch.manual_seed(0)
    ref = RandomDecoder(roofline.get_model(tiny), torch.float32, torch.device("cpu"), 2, 16)
    torch.manual_seed(0)  # the same random weights, then quantized
    q = RandomDecoder(roofline.get_model(tiny), torch.float32, torch.device("cpu"), 2, 16, fp8_weights=True)
    assert q.layers[0]["qkv"][0].dtype == torch.float8_e4m3fn and q.lm_head.dtype == torch.float32
    tokens = torch.randint(0, 256, (2, 8))
    with torch.inference_mode():
        a, b = ref.prefill(tokens, logits=True), q.prefill(tokens, logits=True)
    cos = torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0).item()
    assert cos > 0.99 and not torch.equal(a, b)


def test_fp8_shapes_must_be_multiples_of_16(tmp_path):
    assert fp8_shape_problem(roofline.get_model("llama-3-8b")) is None
    path = tmp_path / "config.json"
    path.write_text(json.dumps(dict(TINY, hidden_size=72)))
    why = fp8_shape_problem(roofline.get_model(str(path)))
    assert "hidden size 72" in why and "attention width 72" in why


def test_measure_refuses_fp8_where_it_cannot_run(capsys, tiny, monkeypatch):
    err = call(capsys, "measure", tiny, "--device", "cpu", "--weight-dtype", "fp8", rc=2).err
    assert err == ("error: --weight-dtype fp8: fp8 needs a CUDA GPU with compute capability ≥ 8.9 "
                   "(Ada, Hopper, Blackwell); this is the CPU\n")
    err = call(capsys, "measure", tiny, "--device", "cpu", "--weight-dtype", "int4", rc=2).err
    assert "runs fp8 weights only" in err and err.count("\n") == 1
    err = call(capsys, "measure", tiny, "--device", "cpu", "--dtype", "fp8", rc=2).err
    assert "--weight-dtype fp8" in err
    # an A100 (8.0), as torch would report it
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: (8, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "NVIDIA A100-SXM4-80GB")
    with pytest.raises(RooflineError, match=r"NVIDIA A100-SXM4-80GB has 8.0$"):
        measure_mod.check_weight_dtype("fp8", torch.device("cuda"), roofline.get_model("llama-2-7b"))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: (9, 0))
    assert measure_mod.check_weight_dtype("fp8", torch.device("cuda"), roofline.get_model("llama-2-7b")) is True
    assert measure_mod.check_weight_dtype(None, torch.device("cuda"), roofline.get_model("llama-2-7b")) is False


def test_fp8_measure_path_writes_rows_validate_estimates_in_fp8(capsys, tiny, tmp_path, monkeypatch):
    """The whole fp8 measure path on the CPU's scaled matmul (the device check lifted: its timings
    mean nothing, but the rows, the comparison and validate's reading of them are the GPU's)."""
    monkeypatch.setattr(measure_mod, "fp8_unsupported", lambda device: None)
    out = tmp_path / "m.csv"
    r = json.loads(call(capsys, "measure", tiny, "--device", "cpu", "--weight-dtype", "fp8", "--input-len", "16",
                        "--output-len", "4", "--gpu", "h100", "-o", str(out), "--json").out)
    assert r["weight_dtype"] == "fp8" and r["activation_dtype"] == "fp8" and r["ttft_s"] > 0
    lines = out.read_text().splitlines()
    assert lines[0] == "id,model,gpu,metric,value,batch_size,input_len,output_len,dtype,weight_dtype,activation_dtype"
    assert "--weight-dtype fp8" in lines[1] and lines[2].endswith(",h100-sxm,ttft_s," + lines[2].split(",")[4] + ",1,16,4,fp32,fp8,fp8")
    fp8_est = roofline.estimate(tiny, "h100", input_len=16, output_len=4, dtype="float32", weight_dtype="fp8",
                                activation_dtype="fp8")
    assert r["estimate"]["tpot_s"]["estimate"] == pytest.approx(fp8_est.tpot_s)
    v = json.loads(call(capsys, "validate", str(out), "--json").out)
    assert [c["predicted"] for c in v["cases"]] == pytest.approx([fp8_est.ttft_s, fp8_est.tpot_s])
    # an older file without the weight-format columns takes no fp8 rows
    old = tmp_path / "old.csv"
    old.write_text("id,model,gpu,metric,value,batch_size,input_len,output_len,dtype\n")
    err = call(capsys, "measure", tiny, "--device", "cpu", "--weight-dtype", "fp8", "--input-len", "16",
               "--output-len", "4", "--gpu", "h100", "-o", str(old), rc=2).err
    assert "no weight_dtype column" in err


def test_calibrate_skips_fp8_with_the_reason_on_the_cpu(capsys, tmp_path):
    from roofline.evidence.calibrate import matmul_rate

    assert matmul_rate(torch.device("cpu"), "fp8") == {
        "skipped": "fp8 needs a CUDA GPU with compute capability ≥ 8.9 (Ada, Hopper, Blackwell); this is the CPU"}


@GPU_ONLY
def test_fp8_on_the_gpu_measures_and_calibrates(capsys, tmp_path):
    from roofline.evidence.calibrate import matmul_rate

    rate = matmul_rate(torch.device("cuda"), "fp8")
    assert rate["flops_per_s"] > 1e14  # every fp8 GPU has hundreds of dense TFLOP/s
    r = json.loads(call(capsys, "measure", "llama-2-7b", "--weight-dtype", "fp8", "--input-len", "128",
                        "--output-len", "8", "--json").out)
    assert r["weight_dtype"] == "fp8" and r["tpot_s"] > 0
