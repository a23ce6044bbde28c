"""Physical memory per GPU: what the driver reports, with the datasheet label beside it."""

import re

from roofline.catalog import all_gpus, get_gpu

MiB, GiB = 2**20, 2**30


def test_80gb_parts_hold_80_gib():
    # nvidia-smi memory.total: A100-SXM4-80GB 81,920 MiB = 85,899,345,920 B; H100 80GB HBM3 81,559 MiB = 85,520,809,984 B
    assert get_gpu("a100-sxm-80gb").memory_bytes == 81_920 * MiB == 85_899_345_920
    assert get_gpu("h100-sxm").memory_bytes == 81_559 * MiB == 85_520_809_984
    for name in ("a100-sxm-80gb", "h100-sxm"):
        g = get_gpu(name)
        assert g.memory_bytes >= 85e9 and g.memory_label == "80 GB" and g.memory_basis == "measured"


def test_every_gpu_names_its_label_basis_and_source():
    for g in all_gpus():
        assert g.memory_label.endswith(" GB"), g.name
        assert g.sources.get("memory"), g.name
        assert g.memory_basis in ("measured", "assumed", "datasheet"), g.name


def test_physical_memory_is_near_the_label_read_as_gib():
    # HBM stacks and GDDR chips are sized in binary units: an "N GB" part has at most N GiB, and at
    # least 93% of it (T4: 15,360 MiB of 16 GiB, the ECC reservation; H200: 143,771 MiB of 141 GiB + 3 spare)
    for g in all_gpus():
        label_gib = float(re.match(r"([\d.]+) GB", g.memory_label).group(1)) * GiB
        assert 0.93 * label_gib <= g.memory_bytes <= 1.0 * label_gib + 0.5 * GiB, g.name
