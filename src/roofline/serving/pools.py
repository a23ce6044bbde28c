"""The two pools of a disaggregated deployment: how many instances of which split, from the flags.

Either `--disaggregate xPyD` (x prefill and y decode instances) or `--prefill-gpus N
--decode-gpus M` (each pool's GPUs; instances = GPUs / (tp × pp)). Each pool has its own
tensor-parallel size (`--prefill-tp`, `--decode-tp`, default `--tensor-parallel-size`); both keep
the estimate's pipeline stages. Whether a tp suits the model's heads is checked when the pool's
setup is resolved (simulation.prepare), with the pool named in the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import RooflineError

LAYOUT = re.compile(r"^\s*(\d+)\s*p\s*(\d+)\s*d\s*$", re.IGNORECASE)
MAX_INSTANCES = 1024
MAX_POOL_GPUS = 8192
TP_KEYS = ("tensor_parallel_size", "tp")
PP_KEYS = ("pipeline_parallel_size", "pp")
REPLICA_KEYS = ("data_parallel_size", "dp", "num_gpus")


@dataclass(frozen=True)
class Pool:
    role: str  # "prefill" or "decode"
    instances: int
    tp: int
    pp: int

    @property
    def gpus_per_instance(self) -> int:
        return self.tp * self.pp

    @property
    def num_gpus(self) -> int:
        return self.instances * self.gpus_per_instance

    @property
    def label(self) -> str:
        return f"{self.instances} × tp={self.tp}" + (f" × pp={self.pp}" if self.pp > 1 else "")


def parse_layout(text) -> tuple[int, int]:
    m = LAYOUT.match(str(text))
    if not m or not 1 <= int(m.group(1)) <= MAX_INSTANCES or not 1 <= int(m.group(2)) <= MAX_INSTANCES:
        raise RooflineError(f"--disaggregate takes xPyD with x, y from 1 to {MAX_INSTANCES} (e.g. 1P1D, 2P3D), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _whole(flag: str, value, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise RooflineError(f"{flag} must be a whole number from 1 to {maximum:,}, got {value!r}")
    return value


def _option(options: dict, keys: tuple[str, ...], default):
    for k in keys:
        if options.get(k) is not None:
            return options[k]
    return default


def _instances(flag: str, gpus: int, tp: int, pp: int) -> int:
    per = tp * pp
    if gpus % per:
        split = f"tp={tp}" + (f" × pp={pp}" if pp > 1 else "")
        raise RooflineError(f"{flag} {gpus} is not a whole number of instances of {split} ({per} GPUs each)")
    return gpus // per


def resolve_pools(disaggregate, prefill_gpus, decode_gpus, prefill_tp, decode_tp, estimate_options: dict):
    """(prefill Pool, decode Pool), or None for an aggregated deployment; bad combinations raise."""
    by_gpus = prefill_gpus is not None or decode_gpus is not None
    if disaggregate is not None and by_gpus:
        raise RooflineError("give either --disaggregate xPyD or --prefill-gpus/--decode-gpus, not both")
    if by_gpus and (prefill_gpus is None or decode_gpus is None):
        raise RooflineError("--prefill-gpus and --decode-gpus go together: give both pools' GPUs")
    if disaggregate is None and not by_gpus:
        if prefill_tp is not None or decode_tp is not None:
            raise RooflineError("--prefill-tp/--decode-tp need --disaggregate xPyD or --prefill-gpus/--decode-gpus")
        return None
    if any(_option(estimate_options, (k,), 1) not in (1, None) for k in REPLICA_KEYS):
        raise RooflineError("disaggregated serving sets the instances itself; leave out --data-parallel-size / --num-gpus")
    tp = _whole("--tensor-parallel-size", _option(estimate_options, TP_KEYS, 1), 4096)
    pp = _whole("--pipeline-parallel-size", _option(estimate_options, PP_KEYS, 1), 4096)
    tp_p = tp if prefill_tp is None else _whole("--prefill-tp", prefill_tp, 4096)
    tp_d = tp if decode_tp is None else _whole("--decode-tp", decode_tp, 4096)
    if disaggregate is not None:
        x, y = parse_layout(disaggregate)
    else:
        x = _instances("--prefill-gpus", _whole("--prefill-gpus", prefill_gpus, MAX_POOL_GPUS), tp_p, pp)
        y = _instances("--decode-gpus", _whole("--decode-gpus", decode_gpus, MAX_POOL_GPUS), tp_d, pp)
        if max(x, y) > MAX_INSTANCES:
            raise RooflineError(f"at most {MAX_INSTANCES} instances per pool; got {x} prefill and {y} decode")
    return Pool("prefill", x, tp_p, pp), Pool("decode", y, tp_d, pp)


def pool_options(pool: Pool, estimate_options: dict) -> dict:
    """The estimate options of one instance of the pool (its own tp; no replicas)."""
    out = {k: v for k, v in estimate_options.items() if k not in TP_KEYS + REPLICA_KEYS}
    out["tensor_parallel_size"] = pool.tp
    return out
