"""The security helpers are public from tempest.utils and tempest, and load only on use."""

from __future__ import annotations

import sys

import pytest

import tempest
import tempest.utils
from tests.helpers import REPO, run

SECURITY_NAMES = [
    "PasswordUtils",
    "JWTUtils",
    "TOTPHelper",
    "generate_opaque_token",
    "hash_opaque_token",
    "verify_opaque_token",
    "AttemptThrottle",
    "ThrottleBackend",
    "ThrottleResult",
    "ThrottleStatus",
    "MemoryThrottleBackend",
    "RedisThrottleBackend",
    "ThrottleUnavailableError",
    "get_client_ip",
    "get_client_ip_from_scope",
]
METRICS_NAMES = [
    "MetricsUtils",
    "CPUMetrics",
    "MemoryMetrics",
    "DiskMetrics",
    "GPUMetrics",
    "SystemMetrics",
]

HEAVY = "{'bcrypt', 'jwt', 'pyotp', 'redis', 'cryptography', 'psutil', 'pynvml'}"


def _loaded_after(statement: str) -> str:
    code = f"import sys; {statement}; print(sorted({HEAVY} & set(sys.modules)))"
    result = run([sys.executable, "-c", code], REPO)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_tempest_utils_stays_cheap() -> None:
    assert _loaded_after("import tempest, tempest.utils") == "[]"


def test_each_helper_loads_only_its_own_library() -> None:
    assert _loaded_after("from tempest.utils import PasswordUtils") == "[]"  # bcrypt on first hash
    assert _loaded_after("from tempest.utils import AttemptThrottle") == "[]"  # redis on from_url
    assert _loaded_after("from tempest import generate_opaque_token") == "[]"
    assert "'jwt'" in _loaded_after("from tempest import JWTUtils")
    assert "'bcrypt'" in _loaded_after(
        "from tempest.utils import PasswordUtils as P; P(4).hash('x')"
    )
    assert _loaded_after("from tempest import MetricsUtils, SystemMetrics") == "[]"
    assert _loaded_after("from tempest.utils import MetricsUtils as M; M.memory()") == "['psutil']"


@pytest.mark.parametrize("name", SECURITY_NAMES + METRICS_NAMES)
def test_the_names_are_importable_from_tempest_utils_and_tempest(name: str) -> None:
    assert name in tempest.utils.__all__ and name in tempest.__all__
    assert getattr(tempest, name) is getattr(tempest.utils, name)
    assert name in dir(tempest.utils)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"module 'tempest\.utils' has no attribute 'Nope'"):
        tempest.utils.Nope  # noqa: B018
