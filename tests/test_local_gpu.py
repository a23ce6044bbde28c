"""`--gpu local` through NVML (a fake pynvml module stands in for the driver), and the calibration
profile `roofline calibrate` saves per GPU, used automatically by the command line."""

import json
import sys
import types

import pytest

import roofline
from roofline.errors import RooflineError
from roofline.evidence import local_gpu
from cli_call import call

MIB = 2**20


class NVMLError(Exception):
    pass


def fake_pynvml(name=None, memory_mib=0, count=1, init_error=None):
    """A module with the NVML calls local_gpu makes, answering as a driver with one kind of GPU would.
    Names and memory.total below are what nvidia-smi prints on those parts."""
    m = types.ModuleType("pynvml")
    m.NVMLError = NVMLError
    m.calls = []

    def init():
        m.calls.append("init")
        if init_error:
            raise NVMLError(init_error)

    m.nvmlInit = init
    m.nvmlShutdown = lambda: m.calls.append("shutdown")
    m.nvmlDeviceGetCount = lambda: count
    m.nvmlDeviceGetHandleByIndex = lambda i: ("handle", i)
    m.nvmlDeviceGetName = lambda h: name
    m.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(total=memory_mib * MIB, free=0, used=0)
    m.nvmlSystemGetDriverVersion = lambda: "550.54.15"
    return m


@pytest.fixture()
def nvml(monkeypatch):
    def install(*args, **kwargs):
        m = fake_pynvml(*args, **kwargs)
        monkeypatch.setitem(sys.modules, "pynvml", m)
        local_gpu.local_gpu.cache_clear()
        return m

    yield install
    local_gpu.local_gpu.cache_clear()


# (NVML name, memory.total in MiB as nvidia-smi prints it) -> catalog GPU
@pytest.mark.parametrize("name, mib, gpu", [
    ("NVIDIA H100 80GB HBM3", 81559, "h100-sxm"),
    ("NVIDIA H100 PCIe", 81559, "h100-pcie"),
    ("NVIDIA H100 NVL", 95830, "h100-nvl"),
    ("NVIDIA H200", 143771, "h200-sxm"),
    ("NVIDIA A100-SXM4-80GB", 81920, "a100-sxm-80gb"),
    ("NVIDIA A100-SXM4-40GB", 40960, "a100-sxm-40gb"),
    ("NVIDIA A100 80GB PCIe", 81920, "a100-pcie-80gb"),
    ("NVIDIA A100-PCIE-40GB", 40960, "a100-pcie-40gb"),
    ("NVIDIA L40S", 46068, "l40s"),
    ("NVIDIA L4", 23034, "l4"),
    ("NVIDIA A10G", 23028, "a10g"),
    ("Tesla T4", 15360, "t4"),
    ("NVIDIA GeForce RTX 4090", 24564, "rtx-4090"),
    ("NVIDIA GH200 480GB", 97871, "gh200-96gb"),  # the name gives the LPDDR; the HBM decides which GH200
])
def test_nvml_name_and_memory_pick_the_catalog_gpu(nvml, name, mib, gpu):
    nvml(name, mib)
    assert local_gpu.local_gpu() == gpu
    assert roofline.get_gpu("local").name == gpu  # the catalog hook: `--gpu local` anywhere a GPU is named


def test_bytes_names_of_old_nvidia_ml_py(nvml):
    nvml(b"NVIDIA H100 80GB HBM3", 81559)
    assert local_gpu.local_gpu() == "h100-sxm"


def test_the_memory_tells_apart_what_the_name_does_not():
    # a bare "A100" name: 40 GiB is the 40 GB part, 80 GiB the 80 GB one
    assert local_gpu.match_catalog("NVIDIA A100", 40960 * MIB) == ("a100-sxm-40gb", "")
    assert local_gpu.match_catalog("NVIDIA A100", 81920 * MIB) == ("a100-sxm-80gb", "")
    # an H100 name with 64 GB is no catalog H100 (the catalog's has 81,559 MiB)
    gpu, why = local_gpu.match_catalog("NVIDIA H100", 65536 * MIB)
    assert gpu is None and "64.0 GiB" in why and "h100-sxm 80 GiB" in why


def test_unknown_device_is_one_line_with_the_closest_names(nvml, capsys):
    nvml("NVIDIA H200 NVL", 143771)  # not in the catalog, and not an H200 SXM
    with pytest.raises(RooflineError, match=r"--gpu local: 'NVIDIA H200 NVL' is not in the catalog; closest: .*h200-sxm"):
        local_gpu.local_gpu()
    local_gpu.local_gpu.cache_clear()
    nvml("NVIDIA GeForce RTX 4080", 16376)
    err = call(capsys, "estimate", "llama-2-7b", "--gpu", "local", rc=2).err
    assert err.startswith("error: --gpu local: 'NVIDIA GeForce RTX 4080' is not in the catalog; closest: rtx-4090")
    assert err.count("\n") == 1


def test_no_nvml_no_driver_no_device_are_one_line(nvml, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    local_gpu.local_gpu.cache_clear()
    err = call(capsys, "estimate", "llama-2-7b", "--gpu", "local", rc=2).err
    assert err == "error: no NVML to find the local GPU: pip install 'roofline[gpu]' (nvidia-ml-py), or name the GPU (`roofline gpus` lists them)\n"
    m = nvml(init_error="Driver Not Loaded")
    with pytest.raises(RooflineError, match=r"no NVIDIA GPU found: NVML could not start \(Driver Not Loaded\)"):
        local_gpu.local_gpu()
    m = nvml("unused", 0, count=0)
    with pytest.raises(RooflineError, match="no NVIDIA GPU found: NVML lists none"):
        local_gpu.local_gpu()
    assert m.calls == ["init", "shutdown"]  # NVML is shut down on the way out


def test_estimate_on_the_local_gpu_is_the_catalog_gpus(nvml, capsys):
    nvml("NVIDIA H100 80GB HBM3", 81559)
    local = json.loads(call(capsys, "estimate", "llama-2-7b", "--gpu", "local", "--json").out)
    named = json.loads(call(capsys, "estimate", "llama-2-7b", "--gpu", "h100-sxm", "--json").out)
    assert local["gpu"]["name"] == "h100-sxm" and local["gpu"]["query"] == "local"
    assert local["tpot_s"] == named["tpot_s"]


def test_help_imports_no_nvml():
    import subprocess

    code = "import sys; from roofline.cli.main import run\ntry: run(['--help'])\nexcept SystemExit: pass\nprint('pynvml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")


# ------------------------------------------------------------------ the saved profile, used automatically

PROFILE = """[device]
name = "NVIDIA H100 80GB HBM3"
kind = "cuda"
catalog_gpu = "h100-sxm"

[measured]

[factors.memory_efficiency]
value = 0.5
basis = "measured"
source = "test"
"""


@pytest.fixture()
def saved(tmp_path, monkeypatch):
    folder = tmp_path / "calibration"
    folder.mkdir()
    monkeypatch.setenv("ROOFLINE_CALIBRATION_DIR", str(folder))
    (folder / "h100-sxm.toml").write_text(PROFILE)
    return folder


def test_the_saved_profile_is_used_for_its_gpu_and_said(saved, capsys):
    auto = json.loads(call(capsys, "estimate", "llama-3.1-8b", "--gpu", "h100", "--json").out)
    none = json.loads(call(capsys, "estimate", "llama-3.1-8b", "--gpu", "h100", "--calibration", "none", "--json").out)
    # batch-1 decode streams the weights: its memory time grows by the catalog's efficiency over the measured 0.5
    catalog_eff = roofline.get_gpu("h100-sxm").factors.memory_efficiency.value
    assert auto["decode"]["memory_s"] / none["decode"]["memory_s"] == pytest.approx(catalog_eff / 0.5, rel=0.01)
    path = str(saved / "h100-sxm.toml")
    assert any(n.startswith(f"measured factors from {path} (found automatically") for n in auto["notes"])
    assert not any("measured factors" in n for n in none["notes"])
    text = call(capsys, "estimate", "llama-3.1-8b", "--gpu", "h100").out
    assert f"measuredfactorsfrom{path}(foundautomatically" in "".join(text.split())  # the table's note, wrapped
    sim = json.loads(call(capsys, "simulate", "llama-3.1-8b", "--gpu", "h100", "--input-len", "512", "--output-len", "64",
                          "--num-prompts", "20", "--json").out)
    assert any(n.startswith(f"measured factors from {path}") for n in sim["notes"])
    # another GPU finds no profile of its own: the catalog's factors
    a100 = json.loads(call(capsys, "estimate", "llama-3.1-8b", "--gpu", "a100", "--json").out)
    assert not any("measured factors" in n for n in a100["notes"])
    # the Python API reads no file it was not given
    assert roofline.estimate("llama-3.1-8b", "h100").tpot_s == pytest.approx(none["tpot_s"])
    assert roofline.estimate("llama-3.1-8b", "h100", calibration="auto").tpot_s == pytest.approx(auto["tpot_s"])


def test_an_explicit_file_overrides_the_saved_one(saved, tmp_path, capsys):
    other = tmp_path / "mine.toml"
    other.write_text(PROFILE.replace("value = 0.5", "value = 0.25"))
    mine = json.loads(call(capsys, "estimate", "llama-3.1-8b", "--gpu", "h100", "--calibration", str(other), "--json").out)
    auto = json.loads(call(capsys, "estimate", "llama-3.1-8b", "--gpu", "h100", "--json").out)
    assert mine["decode"]["memory_s"] / auto["decode"]["memory_s"] == pytest.approx(2.0, rel=0.01)  # half the saved bandwidth
    assert any(n == f"measured factors from {other}" for n in mine["notes"])


def test_a_saved_profile_of_another_gpu_is_an_error(saved, capsys):
    (saved / "h100-sxm.toml").write_text(PROFILE.replace('catalog_gpu = "h100-sxm"', 'catalog_gpu = "a100-sxm-80gb"'))
    err = call(capsys, "estimate", "llama-3.1-8b", "--gpu", "h100", rc=2).err
    assert "h100-sxm.toml was not measured on a h100-sxm GPU" in err and "--calibration none" in err
    assert err.count("\n") == 1
    call(capsys, "estimate", "llama-3.1-8b", "--gpu", "h100", "--calibration", "none")


def test_calibration_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("ROOFLINE_CALIBRATION_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert local_gpu.saved_profile_path("h200-sxm") == tmp_path / "roofline" / "calibration" / "h200-sxm.toml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert local_gpu.calibration_dir() == tmp_path / ".config" / "roofline" / "calibration"


def test_calibrate_saves_where_the_estimates_look_only_for_a_catalog_gpu(tmp_path, monkeypatch, capsys):
    from roofline.evidence.run_calibration import default_output

    folder = tmp_path / "calibration"
    monkeypatch.setenv("ROOFLINE_CALIBRATION_DIR", str(folder))
    cuda, cpu = types.SimpleNamespace(type="cuda"), types.SimpleNamespace(type="cpu")
    h200 = roofline.get_gpu("h200")
    assert default_output(cuda, h200) == (str(folder / "h200-sxm.toml"), True)
    assert default_output(cuda, None) == ("profile.toml", False)  # a device the catalog does not know
    assert default_output(cpu, h200) == ("profile.toml", False)  # CPU numbers never pose as a GPU's profile
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    call(capsys, "calibrate", "--device", "cpu", "--gpu", "h200", "--dtypes", "fp32")
    assert (tmp_path / "profile.toml").is_file() and not folder.exists()


def test_the_web_never_describes_its_own_host_gpu(nvml):
    """A web caller asks about catalog hardware; `local` would answer with the server's GPU."""
    from fastapi.testclient import TestClient

    from roofline.web.app import create_app

    nvml("NVIDIA H100 80GB HBM3", 81559)  # the server has an H100, and still says no
    client = TestClient(create_app())
    for path, body in (("/api/estimate", {"model": "llama-2-7b", "gpu": "local"}),
                       ("/api/estimate", {"model": "llama-2-7b", "gpu": "a100,local"}),
                       ("/api/simulate", {"model": "llama-2-7b", "gpu": "local", "input_len": 128, "output_len": 16,
                                          "num_prompts": 4})):
        r = client.post(path, json=body)
        assert r.status_code in (404, 422), (path, body, r.text)  # as any GPU it cannot name
        assert "on the web, name a catalog GPU" in r.json()["error"]
    assert client.post("/api/estimate", json={"model": "llama-2-7b", "gpu": "h100"}).status_code == 200
    # the command line in the same process still has it
    assert roofline.estimate("llama-2-7b", "local").gpu["name"] == "h100-sxm"
